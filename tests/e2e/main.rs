//! The crate's integration tests, one binary (each module a subject).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod gateway;
mod saga;
mod scale;
mod support;
