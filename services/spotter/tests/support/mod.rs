//! The dev stack under test (see `spotter::testing`).

#![allow(dead_code, unused_imports)]

pub use spotter::testing::TestStack;
pub use spotter_service::testing::service::{body, problem};
