//! How soon a triaged referral must be seen. Which priority a referral gets
//! is the screening rules' decision (`screening`, docs/triage.md).

use super::vocabulary::Priority;
use chrono::Duration;

/// How soon the client should be seen (docs/architecture.md, "Booking
/// rules"); none for medical care, which is never booked.
pub fn target_window(priority: Priority) -> Option<Duration> {
    match priority {
        Priority::Emergency => None,
        Priority::Urgent => Some(Duration::hours(48)),
        Priority::Routine => Some(Duration::days(7)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_windows() {
        assert_eq!(target_window(Priority::Urgent), Some(Duration::hours(48)));
        assert_eq!(target_window(Priority::Routine), Some(Duration::days(7)));
        assert_eq!(target_window(Priority::Emergency), None);
    }
}
