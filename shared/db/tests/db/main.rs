//! spotter-db's integration tests, one binary (each module a subject).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod deadlines;
mod errors;
mod pool;
mod prepared;
mod tls;
mod upkeep;
