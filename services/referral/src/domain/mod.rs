//! The referral's rules as plain functions, tested without I/O: triage by
//! screening questionnaire, the referral's life as a state machine, and the
//! vocabulary the app uses.

pub mod lifecycle;
pub mod screening;
pub mod training;
pub mod triage;
pub mod vocabulary;
