//! Booking: from a referral request to an appointment no one else holds.
//!
//! `facts` loads what the domain rules need from the database (only the
//! covering clinics, only a window of their diaries), `domain` ranks the
//! offers, `book` inserts the best one under its physio's `diary_lock` (the
//! exclusion constraint has the last word), `events` tells the saga.

pub mod book;
pub mod cancel;
mod diaries;
pub mod diary_lock;
pub mod events;
pub mod facts;
pub mod follow_up;
pub mod moves;
pub mod refusals;
pub mod requests;
