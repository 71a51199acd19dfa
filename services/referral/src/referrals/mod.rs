//! Referrals: created from injury reports, moved along by booking's events,
//! read by the trainer and the assigned physio, cancelled by the trainer.

pub mod access;
pub mod api;
pub mod model;
pub mod queue;
pub mod rebook;
pub mod store;
pub mod view;
pub mod visits;
