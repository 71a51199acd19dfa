//! The coded values more than one service speaks (docs/architecture.md,
//! "HTTP conventions"); each service's own vocabulary lives in that service.

crate::coded! {
    /// Where an injury is. Physios' specialties use the same words, plus
    /// `general`.
    pub enum BodyRegion {
        Neck = "neck",
        Shoulder = "shoulder",
        Elbow = "elbow",
        WristHand = "wrist_hand",
        UpperBack = "upper_back",
        LowerBack = "lower_back",
        Hip = "hip",
        Knee = "knee",
        AnkleFoot = "ankle_foot",
        Other = "other",
    }
}

crate::coded! {
    /// How soon a client must be seen, decided by triage.
    pub enum Priority {
        /// Urgent medical care, never a physio booking.
        Emergency = "emergency",
        /// Within 48 hours.
        Urgent = "urgent",
        /// Within 7 days.
        Routine = "routine",
    }
}

crate::coded! {
    /// Why a physio or clinic declines a referral booked with them. The
    /// trainer is told which, never any free text.
    pub enum DeclineReason {
        /// Not something physiotherapy at this clinic treats.
        OutsideScope = "outside_scope",
        /// The clinic cannot serve this client (facilities, access, equipment).
        NotSuitableForClinic = "not_suitable_for_clinic",
        /// No room for it in time.
        NoCapacity = "no_capacity",
    }
}

crate::coded! {
    /// What a deadline waits for (docs/architecture.md, "Deadlines"); each
    /// service owns the kinds about its own facts.
    pub enum DeadlineKind {
        /// Booking: a waiting referral to be booked by its target time.
        Booking = "booking",
        /// Referral: the physio's guidance after an assessment.
        Guidance = "guidance",
        /// Referral: the trainer's acknowledgement of new guidance.
        Acknowledgement = "acknowledgement",
        /// Referral: a doctor's clearance after triage advised medical
        /// care; without one the referral closes.
        MedicalClearance = "medical_clearance",
        /// Referral: the end of each week of training under guidance; a
        /// week under half the prescribed sessions tells the trainer.
        AdherenceWeek = "adherence_week",
    }
}

crate::coded! {
    /// A deadline's two steps: whoever owes the thing is reminded, then
    /// someone further up is told.
    pub enum DeadlineStage {
        Reminder = "reminder",
        Escalation = "escalation",
    }
}

crate::coded! {
    /// A body region a physio treats, or `general`: any region.
    pub enum Specialty {
        General = "general",
        Neck = "neck",
        Shoulder = "shoulder",
        Elbow = "elbow",
        WristHand = "wrist_hand",
        UpperBack = "upper_back",
        LowerBack = "lower_back",
        Hip = "hip",
        Knee = "knee",
        AnkleFoot = "ankle_foot",
        Other = "other",
    }
}

crate::coded! {
    /// Where an appointment is. All but `booked` are final: only a booked
    /// appointment holds the physio's time.
    pub enum AppointmentStatus {
        Booked = "booked",
        Completed = "completed",
        NoShow = "no_show",
        Cancelled = "cancelled",
    }
}

crate::coded! {
    /// What an appointment is for (docs/architecture.md, "Follow-ups").
    pub enum AppointmentKind {
        /// The first visit.
        Assessment = "assessment",
        /// A review with the treating physio, from guidance's review date.
        FollowUp = "follow_up",
    }
}
