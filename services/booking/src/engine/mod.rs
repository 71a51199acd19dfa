//! Booking: from a referral request to an appointment no one else holds.
//!
//! `facts` loads what the domain rules need from the database, `domain`
//! ranks the offers, `book` inserts the first one the database accepts (the
//! exclusion constraint has the last word), `events` tells the saga.

pub mod book;
pub mod cancel;
pub mod events;
pub mod facts;
pub mod requests;
