//! The crate's integration tests, one binary (each module a subject).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod notifications;
mod push;
mod reminders;
mod retention;
mod streams;
mod support;
mod vocabulary;
mod webhooks;
