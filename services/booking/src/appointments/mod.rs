//! Appointments: the physio's diary, the trainer's view of their referrals'
//! appointments, and what physios and clinics do with them (`actions`,
//! `decline`, and `bring_forward`, the one-tap earlier review).

pub mod actions;
pub mod api;
pub mod bring_forward;
pub mod decline;
pub mod list;
pub mod model;
