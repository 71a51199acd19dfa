//! The appointment's life: booked until it is completed, missed or cancelled.
//! Those three are final, so the outcome the referral saga acted on never changes.

use chrono::{DateTime, Utc};
use std::fmt;

/// Shared vocabulary: the app reads it at `GET /v1/vocabulary`.
pub use spotter_platform::vocabulary::AppointmentStatus;

fn adjective(status: AppointmentStatus) -> &'static str {
    match status {
        AppointmentStatus::Booked => "booked",
        AppointmentStatus::Completed => "completed",
        AppointmentStatus::NoShow => "no-show",
        AppointmentStatus::Cancelled => "cancelled",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppointmentAction {
    Complete,
    NoShow,
    Cancel,
    Reschedule,
}

impl AppointmentAction {
    pub const ALL: [AppointmentAction; 4] =
        [Self::Complete, Self::NoShow, Self::Cancel, Self::Reschedule];
}

/// Rescheduling moves a booked appointment and keeps it booked; nothing
/// moves an appointment out of a final state.
pub fn transition(
    from: AppointmentStatus,
    action: AppointmentAction,
) -> Result<AppointmentStatus, IllegalTransition> {
    use AppointmentAction as A;
    use AppointmentStatus as S;
    match (from, action) {
        (S::Booked, A::Complete) => Ok(S::Completed),
        (S::Booked, A::NoShow) => Ok(S::NoShow),
        (S::Booked, A::Cancel) => Ok(S::Cancelled),
        (S::Booked, A::Reschedule) => Ok(S::Booked),
        (S::Completed | S::NoShow | S::Cancelled, _) => Err(IllegalTransition { from, action }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalTransition {
    pub from: AppointmentStatus,
    pub action: AppointmentAction,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = adjective(self.from);
        match self.action {
            AppointmentAction::Complete => write!(f, "cannot complete a {state} appointment"),
            AppointmentAction::NoShow => {
                write!(f, "cannot mark a {state} appointment as a no-show")
            }
            AppointmentAction::Cancel => write!(f, "cannot cancel a {state} appointment"),
            AppointmentAction::Reschedule => write!(f, "cannot reschedule a {state} appointment"),
        }
    }
}

impl std::error::Error for IllegalTransition {}

/// Nobody has missed an appointment that has not begun. (Completing early
/// stays allowed: a client may be seen before the booked time.)
pub fn may_record_no_show(starts_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    starts_at <= now
}

#[cfg(test)]
mod tests {
    use super::AppointmentAction as A;
    use super::AppointmentStatus as S;
    use super::*;

    #[test]
    fn every_state_and_action() {
        // Ok(next state) or Err(message); one row per (state, action) pair.
        #[rustfmt::skip]
        let table: [(S, A, Result<S, &str>); 16] = [
            (S::Booked, A::Complete, Ok(S::Completed)),
            (S::Booked, A::NoShow, Ok(S::NoShow)),
            (S::Booked, A::Cancel, Ok(S::Cancelled)),
            (S::Booked, A::Reschedule, Ok(S::Booked)),
            (S::Completed, A::Complete, Err("cannot complete a completed appointment")),
            (S::Completed, A::NoShow, Err("cannot mark a completed appointment as a no-show")),
            (S::Completed, A::Cancel, Err("cannot cancel a completed appointment")),
            (S::Completed, A::Reschedule, Err("cannot reschedule a completed appointment")),
            (S::NoShow, A::Complete, Err("cannot complete a no-show appointment")),
            (S::NoShow, A::NoShow, Err("cannot mark a no-show appointment as a no-show")),
            (S::NoShow, A::Cancel, Err("cannot cancel a no-show appointment")),
            (S::NoShow, A::Reschedule, Err("cannot reschedule a no-show appointment")),
            (S::Cancelled, A::Complete, Err("cannot complete a cancelled appointment")),
            (S::Cancelled, A::NoShow, Err("cannot mark a cancelled appointment as a no-show")),
            (S::Cancelled, A::Cancel, Err("cannot cancel a cancelled appointment")),
            (S::Cancelled, A::Reschedule, Err("cannot reschedule a cancelled appointment")),
        ];
        for &from in S::ALL {
            for action in A::ALL {
                assert!(
                    table.iter().any(|row| row.0 == from && row.1 == action),
                    "{from:?} {action:?}"
                );
            }
        }
        for (from, action, expected) in table {
            let got = transition(from, action);
            match expected {
                Ok(to) => assert_eq!(got, Ok(to), "{from:?} {action:?}"),
                Err(message) => {
                    assert_eq!(got, Err(IllegalTransition { from, action }));
                    assert_eq!(got.unwrap_err().to_string(), message);
                }
            }
        }
    }

    #[test]
    fn a_no_show_only_from_the_start() {
        let start = Utc::now();
        assert!(!may_record_no_show(
            start,
            start - chrono::Duration::seconds(1)
        ));
        assert!(may_record_no_show(start, start));
        assert!(may_record_no_show(
            start,
            start + chrono::Duration::minutes(50)
        ));
    }

    #[test]
    fn spelling_round_trips() {
        let spelled: Vec<_> = S::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(spelled, ["booked", "completed", "no_show", "cancelled"]);
        for &status in S::ALL {
            assert_eq!(status.as_str().parse(), Ok(status));
            assert_eq!(status.to_string(), status.as_str());
        }
        for unknown in ["no-show", "Booked", ""] {
            assert!(unknown.parse::<S>().is_err(), "{unknown}");
        }
    }
}
