//! Triage: trainers may not diagnose, so the rules are deliberately blunt.
//! Any red flag stops auto-booking and sends the client to urgent medical
//! care; otherwise pain decides how soon a physio must see them.

use super::vocabulary::{Priority, RedFlag};
use chrono::Duration;

/// How soon the client should be seen (docs/architecture.md, "Booking
/// rules"); none for emergencies, which are never booked.
pub fn target_window(priority: Priority) -> Option<Duration> {
    match priority {
        Priority::Emergency => None,
        Priority::Urgent => Some(Duration::hours(48)),
        Priority::Routine => Some(Duration::days(7)),
    }
}

/// Pain at or above this is urgent.
pub const URGENT_PAIN: i64 = 7;

pub fn triage(pain_level: i64, red_flags: &[RedFlag]) -> Priority {
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
        let flag = [RedFlag::HeadInjury];
        let cases: [(i64, &[RedFlag], Priority); 8] = [
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
        assert_eq!(target_window(Priority::Urgent), Some(Duration::hours(48)));
        assert_eq!(target_window(Priority::Routine), Some(Duration::days(7)));
        assert_eq!(target_window(Priority::Emergency), None);
    }
}
