//! The physio's guidance back to the trainer: what to avoid, what to do, how
//! hard, when to review. Versioned: posting again makes a new current version;
//! older ones stay readable. Every read and write is audited.
//!
//! `model`: guidance as stored and shown; `validate`: what a physio may post;
//! `api`: the handlers, which version, store, move the referral, audit and
//! tell the saga in one transaction.

pub mod api;
pub mod model;
pub mod validate;

pub use model::{GuidanceVersion, GuidanceView, all, current, version, versions};
