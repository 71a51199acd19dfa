//! The crate's integration tests, one binary (each module a subject).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod batch;
mod cluster;
mod delivery;
mod faults;
mod metrics;
mod permissions;
mod relay_plan;
mod support;
mod tls;
