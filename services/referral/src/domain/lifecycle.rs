//! The referral's life (docs/architecture.md, "The saga") as a state machine.
//!
//! Events from booking can arrive twice, late, or (after a retried failure)
//! before the one they follow. Each step therefore says what to do with an
//! event in every state: apply it, ignore it (a duplicate or stale event:
//! logged, acknowledged), or retry it later (it is ahead of an event still
//! on its way, so the referral is not there yet).

use uuid::Uuid;

spotter_platform::coded! {
    /// Where a referral is in its life.
    pub enum Status {
        AwaitingBooking = "awaiting_booking",
        /// Triage: call emergency services now; no booking.
        EmergencyAdvised = "emergency_advised",
        /// Triage: see a doctor today, not a physio; no booking until a
        /// doctor clears the client (`MedicallyCleared`).
        DoctorAdvised = "doctor_advised",
        /// Medical care was advised and no doctor's clearance followed
        /// within the advice window (7 days): closed.
        Closed = "closed",
        /// No slot within the horizon yet; booking keeps looking.
        Waitlisted = "waitlisted",
        Booked = "booked",
        Assessed = "assessed",
        GuidanceShared = "guidance_shared",
        Acknowledged = "acknowledged",
        Cancelled = "cancelled",
        /// A missed appointment: the trainer may rebook once with the same
        /// clinic (`RebookedAfterNoShow`).
        NoShow = "no_show",
        /// A second missed appointment: closed.
        NotAttended = "not_attended",
        /// Cleared for full training with no review: closed, its last
        /// guidance version the final summary (still acknowledged).
        Discharged = "discharged",
    }
}

impl Status {
    /// Still in the system's hands (docs/architecture.md, "Fair use"): these
    /// count towards a trainer's open referrals, and one of them per client
    /// and body region blocks another.
    pub const OPEN: [Status; 5] = [
        Self::AwaitingBooking,
        Self::Waitlisted,
        Self::Booked,
        Self::Assessed,
        Self::GuidanceShared,
    ];

    /// How far along the usual path a referral is; `None` for the ends that
    /// leave it (emergency, cancelled, no-show).
    fn progress(self) -> Option<u8> {
        match self {
            Self::AwaitingBooking => Some(0),
            Self::Waitlisted => Some(1),
            Self::Booked => Some(2),
            Self::Assessed => Some(3),
            Self::GuidanceShared => Some(4),
            Self::Acknowledged => Some(5),
            Self::EmergencyAdvised
            | Self::DoctorAdvised
            | Self::Closed
            | Self::Cancelled
            | Self::NoShow
            | Self::NotAttended
            | Self::Discharged => None,
        }
    }
}

/// What happened to the referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happening {
    Booked,
    Waitlisted,
    /// The clinic side cancelled: back to be booked again.
    CancelledByClinic,
    /// Cancelled for good (the trainer's side).
    CancelledForGood,
    Completed,
    /// An assessment missed; `missed` counts the referral's missed
    /// appointments, this one included.
    NoShow {
        missed: u32,
    },
    /// The booked appointment moved: still booked, at another time.
    Rescheduled,
    /// The trainer took up the rebooking offered after a missed appointment.
    RebookedAfterNoShow,
    /// A doctor cleared the client for physio after medical care was
    /// advised: booking opens.
    MedicallyCleared,
    /// The advice window passed without a doctor's clearance.
    AdviceExpired,
    GuidanceShared,
    /// Guidance that clears for full training with no review date.
    Discharged,
    GuidanceAcknowledged,
    /// The trainer read a discharge's final summary.
    FinalSummaryAcknowledged,
    /// News of a follow-up (booked, moved, waiting, cancelled): the visit
    /// and the timeline change, the status stays.
    FollowUpNews,
    /// The follow-up took place: guidance is awaited again.
    FollowUpCompleted,
    /// A follow-up missed (`missed` as for `NoShow`).
    FollowUpMissed {
        missed: u32,
    },
}

impl Happening {
    fn is_about_a_follow_up(self) -> bool {
        matches!(
            self,
            Self::FollowUpNews | Self::FollowUpCompleted | Self::FollowUpMissed { .. }
        )
    }
}

/// Where triage sent the client to medical care (docs/triage.md).
pub const MEDICAL_ADVICE: &[Status] = &[Status::EmergencyAdvised, Status::DoctorAdvised];

/// Where follow-ups happen: after guidance, until the referral closes.
const UNDER_REVIEW: &[Status] = &[Status::GuidanceShared, Status::Acknowledged];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Apply(Status),
    /// Already applied or overtaken: acknowledge and move on.
    Ignore,
    /// Ahead of an event not yet handled: try again later.
    Retry,
}

/// Where a happening leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    To(Status),
    /// The status stays (the timeline still records the happening).
    Stays,
}

/// Where a happening leads, and the states it may come from.
fn rule(happening: Happening) -> (Target, &'static [Status]) {
    use Status::*;
    use Target::{Stays, To};
    match happening {
        Happening::Booked => (To(Booked), &[AwaitingBooking, Waitlisted]),
        Happening::Waitlisted => (To(Waitlisted), &[AwaitingBooking]),
        Happening::CancelledByClinic => (To(AwaitingBooking), &[Booked]),
        Happening::CancelledForGood => (
            To(Cancelled),
            &[
                AwaitingBooking,
                Waitlisted,
                Booked,
                EmergencyAdvised,
                DoctorAdvised,
            ],
        ),
        Happening::Completed => (To(Assessed), &[Booked]),
        Happening::NoShow { missed } => (To(after_missed(missed)), &[Booked]),
        Happening::Rescheduled => (Stays, &[Booked]),
        Happening::RebookedAfterNoShow => (To(AwaitingBooking), &[NoShow]),
        Happening::MedicallyCleared => (To(AwaitingBooking), MEDICAL_ADVICE),
        Happening::AdviceExpired => (To(Closed), MEDICAL_ADVICE),
        // A new version of the guidance replaces the old, acknowledged or not.
        Happening::GuidanceShared => (
            To(GuidanceShared),
            &[Assessed, GuidanceShared, Acknowledged],
        ),
        Happening::Discharged => (To(Discharged), &[Assessed, GuidanceShared, Acknowledged]),
        Happening::GuidanceAcknowledged => (To(Acknowledged), &[GuidanceShared]),
        Happening::FinalSummaryAcknowledged => (Stays, &[Discharged]),
        Happening::FollowUpNews => (Stays, UNDER_REVIEW),
        Happening::FollowUpCompleted => (To(Assessed), UNDER_REVIEW),
        Happening::FollowUpMissed { missed } => (To(after_missed(missed)), UNDER_REVIEW),
    }
}

/// Where a missed appointment leaves the referral, by how many it has
/// missed (this one included): the first offers a rebooking (`no_show`),
/// the second closes it (`not_attended`).
pub fn after_missed(missed: u32) -> Status {
    if missed <= 1 {
        Status::NoShow
    } else {
        Status::NotAttended
    }
}

pub fn decide(current: Status, happening: Happening) -> Decision {
    let (target, from) = rule(happening);
    if from.contains(&current) {
        return Decision::Apply(match target {
            Target::To(status) => status,
            Target::Stays => current,
        });
    }
    if happening.is_about_a_follow_up() {
        // Booking hears of guidance from this service, which wrote it
        // first: a follow-up's news never runs ahead of the referral, so
        // anything else is stale or repeated.
        return Decision::Ignore;
    }
    match (
        current.progress(),
        from.iter().filter_map(|s| s.progress()).min(),
    ) {
        // Not yet at any state it may come from: an earlier event is pending.
        (Some(now), Some(needed)) if now < needed => Decision::Retry,
        _ => Decision::Ignore,
    }
}

/// The appointment an event names, beside the referral's current one, and
/// whether the referral has heard of it being booked (its visits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Naming {
    pub event: Uuid,
    pub current: Option<Uuid>,
    pub known: bool,
}

/// What to do with an event from booking: the one decision every consumer
/// step takes. An event about an appointment counts only for the current
/// one: news of an appointment known but no longer current is stale
/// (ignored); news of one whose booking has not arrived yet waits
/// (retried), unless the referral is somewhere that event can never matter.
pub fn admit(current: Status, appointment: Option<Naming>, happening: Happening) -> Decision {
    let decision = decide(current, happening);
    match appointment {
        None => decision,
        Some(naming) if Some(naming.event) == naming.current => decision,
        Some(Naming { known: true, .. }) => Decision::Ignore,
        Some(_) => match decision {
            Decision::Ignore => Decision::Ignore,
            _ => Decision::Retry,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{Decision, Happening as H, Naming, Status as S, admit, after_missed, decide};
    use uuid::Uuid;

    #[test]
    fn the_happy_path() {
        let mut status = S::AwaitingBooking;
        for happening in [
            H::Booked,
            H::Completed,
            H::GuidanceShared,
            H::GuidanceAcknowledged,
        ] {
            match decide(status, happening) {
                Decision::Apply(next) => status = next,
                other => panic!("{happening:?} from {status:?}: {other:?}"),
            }
        }
        assert_eq!(status, S::Acknowledged);
    }

    #[test]
    fn duplicates_and_stale_events_are_ignored() {
        assert_eq!(decide(S::Booked, H::Booked), Decision::Ignore);
        assert_eq!(decide(S::Assessed, H::Completed), Decision::Ignore);
        assert_eq!(decide(S::Assessed, H::Booked), Decision::Ignore);
        assert_eq!(decide(S::Cancelled, H::Booked), Decision::Ignore);
        assert_eq!(decide(S::EmergencyAdvised, H::Booked), Decision::Ignore);
        assert_eq!(decide(S::Booked, H::Waitlisted), Decision::Ignore);
        assert_eq!(decide(S::Cancelled, H::CancelledForGood), Decision::Ignore);
        assert_eq!(decide(S::DoctorAdvised, H::Booked), Decision::Ignore);
        assert_eq!(decide(S::Closed, H::MedicallyCleared), Decision::Ignore);
        assert_eq!(
            decide(S::AwaitingBooking, H::MedicallyCleared),
            Decision::Ignore
        );
    }

    #[test]
    fn medical_advice_opens_booking_when_cleared_and_closes_otherwise() {
        for advised in [S::EmergencyAdvised, S::DoctorAdvised] {
            assert_eq!(
                decide(advised, H::MedicallyCleared),
                Decision::Apply(S::AwaitingBooking)
            );
            assert_eq!(
                decide(advised, H::AdviceExpired),
                Decision::Apply(S::Closed)
            );
            assert_eq!(
                decide(advised, H::CancelledForGood),
                Decision::Apply(S::Cancelled)
            );
        }
    }

    #[test]
    fn events_ahead_of_their_predecessor_are_retried() {
        assert_eq!(decide(S::AwaitingBooking, H::Completed), Decision::Retry);
        assert_eq!(
            decide(S::Waitlisted, H::NoShow { missed: 1 }),
            Decision::Retry
        );
        assert_eq!(
            decide(S::AwaitingBooking, H::CancelledByClinic),
            Decision::Retry
        );
    }

    #[test]
    fn clinic_cancellations_rebook_and_trainer_ones_end_it() {
        assert_eq!(
            decide(S::Booked, H::CancelledByClinic),
            Decision::Apply(S::AwaitingBooking)
        );
        assert_eq!(
            decide(S::Booked, H::CancelledForGood),
            Decision::Apply(S::Cancelled)
        );
        assert_eq!(
            decide(S::Waitlisted, H::CancelledForGood),
            Decision::Apply(S::Cancelled)
        );
    }

    #[test]
    fn a_first_missed_appointment_may_be_rebooked_once_and_a_second_closes_it() {
        assert_eq!(after_missed(1), S::NoShow);
        assert_eq!(after_missed(2), S::NotAttended);
        // A count from a booking service older than the count: the first.
        assert_eq!(after_missed(0), S::NoShow);
        assert_eq!(
            decide(S::Booked, H::NoShow { missed: 2 }),
            Decision::Apply(S::NotAttended)
        );
        assert_eq!(
            decide(S::NoShow, H::RebookedAfterNoShow),
            Decision::Apply(S::AwaitingBooking)
        );
        assert_eq!(
            decide(S::NotAttended, H::RebookedAfterNoShow),
            Decision::Ignore
        );
        assert_eq!(decide(S::Booked, H::RebookedAfterNoShow), Decision::Ignore);
        assert_eq!(
            decide(S::NotAttended, H::CancelledForGood),
            Decision::Ignore
        );
    }

    #[test]
    fn new_guidance_needs_a_new_acknowledgement() {
        assert_eq!(
            decide(S::Acknowledged, H::GuidanceShared),
            Decision::Apply(S::GuidanceShared)
        );
        assert_eq!(decide(S::Booked, H::GuidanceShared), Decision::Retry);
        assert_eq!(
            decide(S::Acknowledged, H::GuidanceAcknowledged),
            Decision::Ignore
        );
    }

    #[test]
    fn follow_ups_keep_the_status_and_a_completed_one_awaits_guidance_again() {
        assert_eq!(
            decide(S::Acknowledged, H::FollowUpNews),
            Decision::Apply(S::Acknowledged)
        );
        assert_eq!(
            decide(S::GuidanceShared, H::FollowUpNews),
            Decision::Apply(S::GuidanceShared)
        );
        assert_eq!(
            decide(S::Acknowledged, H::FollowUpCompleted),
            Decision::Apply(S::Assessed)
        );
        assert_eq!(
            decide(S::Assessed, H::GuidanceShared),
            Decision::Apply(S::GuidanceShared)
        );
        // A discharged or cancelled referral takes no follow-up news.
        assert_eq!(decide(S::Discharged, H::FollowUpNews), Decision::Ignore);
        assert_eq!(decide(S::Cancelled, H::FollowUpCompleted), Decision::Ignore);
        assert_eq!(decide(S::Assessed, H::FollowUpCompleted), Decision::Ignore);
    }

    #[test]
    fn a_discharge_stays_discharged_when_its_final_summary_is_read() {
        assert_eq!(
            decide(S::Discharged, H::FinalSummaryAcknowledged),
            Decision::Apply(S::Discharged)
        );
        assert_eq!(
            decide(S::Discharged, H::GuidanceAcknowledged),
            Decision::Ignore
        );
        assert_eq!(
            decide(S::Acknowledged, H::FollowUpMissed { missed: 2 }),
            Decision::Apply(S::NotAttended)
        );
    }

    #[test]
    fn discharge_closes_the_referral_from_any_guidance_state() {
        for from in [S::Assessed, S::GuidanceShared, S::Acknowledged] {
            assert_eq!(decide(from, H::Discharged), Decision::Apply(S::Discharged));
        }
        assert_eq!(decide(S::Discharged, H::GuidanceShared), Decision::Ignore);
        assert_eq!(decide(S::Discharged, H::Discharged), Decision::Ignore);
        assert_eq!(decide(S::Booked, H::Discharged), Decision::Retry);
    }

    #[test]
    fn every_status_round_trips_through_its_name() {
        for &status in S::ALL {
            assert_eq!(status.as_str().parse::<S>(), Ok(status));
        }
    }

    #[test]
    fn appointment_news_counts_only_for_the_current_appointment() {
        let (current, older) = (Uuid::now_v7(), Uuid::now_v7());
        let about = |event| {
            Some(Naming {
                event,
                current: Some(current),
                known: true,
            })
        };
        assert_eq!(
            admit(S::Booked, about(current), H::Completed),
            Decision::Apply(S::Assessed)
        );
        assert_eq!(
            admit(S::Booked, about(older), H::Completed),
            Decision::Ignore
        );
        assert_eq!(
            admit(S::Booked, about(older), H::CancelledByClinic),
            Decision::Ignore
        );
        // Its booking is still on the way (whether or not the referral
        // has a current appointment).
        let unbooked = Some(Naming {
            event: current,
            current: None,
            known: false,
        });
        let after_older = Some(Naming {
            event: current,
            current: Some(older),
            known: false,
        });
        assert_eq!(
            admit(S::Acknowledged, after_older, H::FollowUpCompleted),
            Decision::Retry
        );
        assert_eq!(
            admit(S::AwaitingBooking, unbooked, H::NoShow { missed: 1 }),
            Decision::Retry
        );
        // A cancelled referral waits for nothing.
        assert_eq!(
            admit(S::Cancelled, unbooked, H::CancelledForGood),
            Decision::Ignore
        );
    }

    #[test]
    fn rescheduling_goes_through_the_state_machine() {
        assert_eq!(
            decide(S::Booked, H::Rescheduled),
            Decision::Apply(S::Booked)
        );
        assert_eq!(decide(S::AwaitingBooking, H::Rescheduled), Decision::Retry);
        assert_eq!(decide(S::Assessed, H::Rescheduled), Decision::Ignore);
        assert_eq!(decide(S::Cancelled, H::Rescheduled), Decision::Ignore);
    }
}
