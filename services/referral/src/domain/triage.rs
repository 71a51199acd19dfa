//! Triage: trainers may not diagnose, so the rules are deliberately blunt.
//! Any red flag stops auto-booking and sends the client to urgent medical
//! care; otherwise pain decides how soon a physio must see them.

use chrono::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Emergency,
    Urgent,
    Routine,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Emergency => "emergency",
            Self::Urgent => "urgent",
            Self::Routine => "routine",
        }
    }

    /// How soon the client should be seen (docs/architecture.md,
    /// "Booking rules"); none for emergencies, which are never booked.
    pub fn target_window(self) -> Option<Duration> {
        match self {
            Self::Emergency => None,
            Self::Urgent => Some(Duration::hours(48)),
            Self::Routine => Some(Duration::days(7)),
        }
    }
}

/// Pain at or above this is urgent.
pub const URGENT_PAIN: u8 = 7;

pub fn triage(pain_level: u8, red_flags: &[String]) -> Priority {
    if !red_flags.is_empty() {
        Priority::Emergency
    } else if pain_level >= URGENT_PAIN {
        Priority::Urgent
    } else {
        Priority::Routine
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triage_table() {
        let flag = vec!["head_injury".to_owned()];
        let cases: [(u8, &[String], Priority); 8] = [
            (0, &[], Priority::Routine),
            (6, &[], Priority::Routine),
            (7, &[], Priority::Urgent),
            (10, &[], Priority::Urgent),
            (0, &flag, Priority::Emergency),
            (3, &flag, Priority::Emergency),
            (7, &flag, Priority::Emergency),
            (10, &flag, Priority::Emergency),
        ];
        for (pain, flags, expected) in cases {
            assert_eq!(
                triage(pain, flags),
                expected,
                "pain {pain}, flags {flags:?}"
            );
        }
    }

    #[test]
    fn target_windows() {
        assert_eq!(Priority::Urgent.target_window(), Some(Duration::hours(48)));
        assert_eq!(Priority::Routine.target_window(), Some(Duration::days(7)));
        assert_eq!(Priority::Emergency.target_window(), None);
    }
}
