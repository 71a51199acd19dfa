//! Training around the injury (docs/training.md), as plain functions: the
//! movement patterns, the conflict check of a planned session against the
//! guidance, flares, adherence and outcome measures.

pub mod adherence;
pub mod check;
pub mod flare;
pub mod outcomes;
pub mod patterns;

pub use patterns::MovementPattern;
