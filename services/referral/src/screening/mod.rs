//! Triage by screening questionnaire over HTTP (docs/triage.md): the
//! questionnaire the app renders, what a referral was triaged with, and a
//! doctor's clearance after medical care was advised. The rules themselves
//! are pure domain code (`domain::screening`).

pub mod clearance;
pub mod questionnaire_api;
pub mod store;
