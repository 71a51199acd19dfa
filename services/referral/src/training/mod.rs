//! Training around the injury over HTTP (docs/training.md): the conflict
//! check, the session log with its flare alerts, adherence, outcome
//! measures and the progress export. All health data: only the referral's
//! trainer and its treating physio reach it, and every read and write is
//! audited.
//!
//! `access`: who may, and the guidance in force; `check_api`; `sessions`
//! (the log as stored) and `sessions_api`; `flares`: what a flare tells;
//! `adherence_api`, and `adherence_weeks`: the weeks counted and the end
//! of each told; `measures` and `measures_api` (NPRS and PSFS); `export_api` (the CSV).

pub mod access;
pub mod adherence_api;
pub mod adherence_weeks;
pub mod check_api;
pub mod export_api;
pub mod flares;
pub mod measures;
pub mod measures_api;
pub mod sessions;
pub mod sessions_api;
