//! The dev stack under test (see `spotter::testing`).

pub use spotter::testing::TestStack;
pub use spotter_service::testing::service::{body, problem};
