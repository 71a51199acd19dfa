//! The crate's integration tests, one binary (each module a subject).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli;
mod dev_stack;
mod support;
