//! End-to-end tests of spotter-auth through its public API only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod dev_keys;
mod extractors;
mod jwks_refresh;
mod production;
