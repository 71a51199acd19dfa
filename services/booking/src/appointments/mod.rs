//! Appointments: the physio's diary, the trainer's view of their referrals'
//! appointments, and what physios and clinics do with them.

pub mod actions;
pub mod api;
pub mod decline;
pub mod list;
pub mod model;
