//! The coded values of the API (docs/architecture.md, "HTTP conventions").
//! Free text stays free text; everything a rule depends on is one of these.

pub use spotter_platform::validate::BODY_REGIONS;

pub const SIDES: [&str; 4] = ["left", "right", "both", "not_applicable"];

/// Any of these means urgent medical care, not a physio booking.
pub const RED_FLAGS: [&str; 8] = [
    "numbness_or_tingling",
    "bladder_or_bowel_change",
    "chest_pain_or_breathlessness",
    "head_injury",
    "suspected_fracture_or_dislocation",
    "unable_to_bear_weight",
    "fever_or_unexplained_weight_loss",
    "severe_night_pain",
];

pub const CONSENT_METHODS: [&str; 3] = ["verbal", "written", "in_app"];

pub const CLEARANCES: [&str; 3] = ["no_training", "modified_training", "full_training"];

/// Why a trainer cancels: `consent_withdrawn` means the client's data may no
/// longer be shared.
pub const CANCEL_REASONS: [&str; 2] = ["trainer_cancelled", "consent_withdrawn"];
