//! The booking rules (docs/architecture.md, "Booking rules") as plain
//! functions over plain data: opening hours, free slots across DST, matching
//! a referral to a physio and a slot, and the appointment's state machine. No
//! I/O, so every rule is unit-tested here and the service around it only
//! loads facts and stores outcomes.
//!
//! This code picks a slot that *was* free when the facts were read; it cannot
//! see a concurrent booking (bookings take turns per physio diary, see
//! `engine::book`). The database's exclusion constraint on (physio,
//! time range) of active appointments is the last word against double
//! booking, and a conflict there means "try the next offer".

pub mod geo;
pub mod hours;
pub mod matching;
pub mod slots;
pub mod specialty;
pub mod status;

pub use geo::{Location, distance_km};
pub use hours::{FieldProblem, HoursInput, MAX_RANGES, WeeklyHours, parse_weekly_hours};
pub use matching::{
    ClinicFacts, GENERAL, Offer, PhysioFacts, Priority, Request, candidates, ranked_offers,
    ranked_offers_within,
};
pub use slots::{Interval, SlotRules, earliest_free_slots, earliest_free_slots_within, free_slots};
pub use status::{AppointmentAction, AppointmentStatus, IllegalTransition, transition};
