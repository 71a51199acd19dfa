//! The coded values of the referral API (docs/architecture.md, "HTTP
//! conventions"). Free text stays free text; everything a rule depends on is
//! one of these. Each is a text column in the database whose CHECK lists the
//! same names (tests/api/vocabulary.rs compares them).

use spotter_platform::coded;
pub use spotter_platform::vocabulary::{BodyRegion, Priority};

coded! {
    /// Which side of the body.
    pub enum Side {
        Left = "left",
        Right = "right",
        Both = "both",
        NotApplicable = "not_applicable",
    }
}

coded! {
    /// The deprecated checklist of the injury report: each answers "yes" to
    /// a question of the screening questionnaire (docs/triage.md).
    pub enum RedFlag {
        NumbnessOrTingling = "numbness_or_tingling",
        BladderOrBowelChange = "bladder_or_bowel_change",
        ChestPainOrBreathlessness = "chest_pain_or_breathlessness",
        HeadInjury = "head_injury",
        SuspectedFractureOrDislocation = "suspected_fracture_or_dislocation",
        UnableToBearWeight = "unable_to_bear_weight",
        FeverOrUnexplainedWeightLoss = "fever_or_unexplained_weight_loss",
        SevereNightPain = "severe_night_pain",
    }
}

coded! {
    /// How the trainer obtained the client's consent to share their injury.
    pub enum ConsentMethod {
        Verbal = "verbal",
        Written = "written",
        InApp = "in_app",
    }
}

coded! {
    /// What the physio clears the client for.
    pub enum Clearance {
        NoTraining = "no_training",
        ModifiedTraining = "modified_training",
        FullTraining = "full_training",
    }
}

coded! {
    /// Why a trainer cancels: `consent_withdrawn` means the client's data may
    /// no longer be shared.
    pub enum CancelReason {
        TrainerCancelled = "trainer_cancelled",
        ConsentWithdrawn = "consent_withdrawn",
    }
}

coded! {
    /// Why a referral's timeline has an entry: what happened, never health
    /// detail. Guidance entries also name the version they concern.
    pub enum TimelineCause {
        InjuryReported = "injury_reported",
        AppointmentBooked = "appointment_booked",
        /// No slot within reach yet; booking keeps looking.
        Waitlisted = "waitlisted",
        /// Refused by clinics too often: a platform admin decides.
        WaitingForReview = "waiting_for_review",
        AppointmentRescheduled = "appointment_rescheduled",
        AppointmentCompleted = "appointment_completed",
        AppointmentNoShow = "appointment_no_show",
        AppointmentDeclined = "appointment_declined",
        AppointmentCancelledByClinic = "appointment_cancelled_by_clinic",
        /// The appointment of a referral cancelled by its trainer.
        AppointmentCancelled = "appointment_cancelled",
        /// Still unbooked when its target time passed (a flag, not a status).
        BookingOverdue = "booking_overdue",
        RebookedAfterNoShow = "rebooked_after_no_show",
        TrainerCancelled = "trainer_cancelled",
        ConsentWithdrawn = "consent_withdrawn",
        GuidanceShared = "guidance_shared",
        GuidanceAcknowledged = "guidance_acknowledged",
        /// A follow-up booked from the guidance's review date (or rebooked
        /// after the clinic cancelled one).
        FollowUpBooked = "follow_up_booked",
        FollowUpMoved = "follow_up_moved",
        /// No room for the follow-up yet; booking keeps looking.
        FollowUpWaitlisted = "follow_up_waitlisted",
        FollowUpCancelled = "follow_up_cancelled",
        FollowUpCompleted = "follow_up_completed",
        /// Cleared for full training with no review: the referral closes.
        Discharged = "discharged",
        /// A doctor cleared the client for physio after triage advised
        /// medical care: booking opens.
        MedicallyCleared = "medically_cleared",
        /// No doctor's clearance within the advice window: closed.
        AdviceExpired = "advice_expired",
    }
}

impl From<CancelReason> for TimelineCause {
    fn from(reason: CancelReason) -> Self {
        match reason {
            CancelReason::TrainerCancelled => Self::TrainerCancelled,
            CancelReason::ConsentWithdrawn => Self::ConsentWithdrawn,
        }
    }
}
