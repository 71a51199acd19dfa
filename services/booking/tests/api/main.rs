//! The crate's integration tests, one binary (each module a subject).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod booking;
mod clinic_control;
mod concurrency;
mod contract;
mod deadlines;
mod declines;
mod follow_ups;
mod missed;
mod network;
mod operations;
mod support;
mod vocabulary;
mod waitlist_pass;
