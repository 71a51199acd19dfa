//! Triage by screening questionnaire (docs/triage.md): the trainer answers
//! the served questionnaire with the client; named rules, each citing its
//! source, decide one of three dispositions. Trainers may not diagnose, and
//! this does not: it is a screening aid that says where the client should go.

pub mod answers;
pub mod legacy;
pub mod questionnaire;
pub mod return_to_sport;
pub mod rules;

use crate::domain::lifecycle::Status;
use crate::domain::vocabulary::Priority;
pub use answers::{Answer, Screen};
use rules::{Level, RULES, Rule};

spotter_platform::coded! {
    /// Where triage sends the client.
    pub enum Disposition {
        /// Call emergency services now; nothing is booked.
        EmergencyNow = "emergency_now",
        /// A doctor (GP or urgent care) today, not a physio; nothing is
        /// booked until a doctor clears the client for physio.
        SeeDoctorToday = "see_doctor_today",
        /// A physio, within the priority's target window.
        Physio = "physio",
    }
}

/// What triage decided, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Triage {
    pub level: Level,
    /// Every rule the answers met, most serious first.
    pub rules: Vec<&'static str>,
}

/// The rules' verdict on `screen`: the most serious level any rule reaches,
/// routine when none does.
pub fn triage(screen: &Screen) -> Triage {
    let mut met: Vec<&Rule> = RULES.iter().filter(|r| (r.applies)(screen)).collect();
    met.sort_by_key(|r| std::cmp::Reverse(r.level));
    Triage {
        level: met.first().map_or(Level::Routine, |r| r.level),
        rules: met.iter().map(|r| r.id).collect(),
    }
}

impl Triage {
    pub fn disposition(&self) -> Disposition {
        match self.level {
            Level::EmergencyNow => Disposition::EmergencyNow,
            Level::SeeDoctorToday => Disposition::SeeDoctorToday,
            Level::Urgent | Level::Routine => Disposition::Physio,
        }
    }

    /// `emergency` for both medical dispositions: never booked (booking
    /// refuses the priority too).
    pub fn priority(&self) -> Priority {
        match self.level {
            Level::EmergencyNow | Level::SeeDoctorToday => Priority::Emergency,
            Level::Urgent => Priority::Urgent,
            Level::Routine => Priority::Routine,
        }
    }

    pub fn status(&self) -> Status {
        match self.disposition() {
            Disposition::EmergencyNow => Status::EmergencyAdvised,
            Disposition::SeeDoctorToday => Status::DoctorAdvised,
            Disposition::Physio => Status::AwaitingBooking,
        }
    }

    pub fn books(&self) -> bool {
        self.disposition() == Disposition::Physio
    }
}

/// The sentence the trainer is shown for a disposition.
pub fn advice(disposition: Disposition, priority: Priority) -> &'static str {
    match (disposition, priority) {
        (Disposition::EmergencyNow, _) => {
            "Call emergency services now and stay with your client. They must not train. No physio appointment is booked."
        }
        (Disposition::SeeDoctorToday, _) => {
            "Your client should see a doctor today (their GP or an urgent care centre), not a physio, and not train until then. Once a doctor clears them for physio, record it and Spotter books the appointment."
        }
        (Disposition::Physio, Priority::Urgent) => {
            "Spotter is booking a physio to see your client within 48 hours. Until then, avoid anything that brings the pain on."
        }
        (Disposition::Physio, _) => {
            "Spotter is booking a physio to see your client within 7 days. Until then, avoid anything that brings the pain on."
        }
    }
}

#[cfg(test)]
mod tests;
