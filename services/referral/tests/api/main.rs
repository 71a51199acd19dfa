//! The crate's integration tests, one binary (each module a subject).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod access;
mod adherence_weeks;
mod contract;
mod course;
mod deadlines;
mod declines;
mod fhir;
mod lifecycle;
mod missed;
mod quotas;
mod rate_limits;
mod reports;
mod support;
mod training;
mod triage;
mod vocabulary;
