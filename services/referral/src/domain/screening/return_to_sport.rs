//! The graduated return to training after a possible concussion, shown to
//! the trainer as interim guidance until a clinician's guidance replaces it.
//!
//! Source: the return-to-sport strategy of the Amsterdam 2022 consensus
//! statement on concussion in sport (Patricios et al., BJSM
//! 2023;57:695-711), steps 1-6: each step takes at least 24 hours; symptoms
//! that worsen more than mildly and briefly mean going back one step; full
//! contact only after medical clearance.

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnToTraining {
    /// `graduated_return_to_sport`.
    pub protocol: &'static str,
    pub source: &'static str,
    /// The rules every stage follows.
    pub rules: Vec<&'static str>,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stage {
    pub stage: u8,
    pub name: &'static str,
    pub activity: &'static str,
    pub goal: &'static str,
}

pub fn protocol() -> ReturnToTraining {
    let stage = |stage, name, activity, goal| Stage {
        stage,
        name,
        activity,
        goal,
    };
    ReturnToTraining {
        protocol: "graduated_return_to_sport",
        source: "Amsterdam 2022 consensus statement on concussion in sport (Patricios et al., Br J Sports Med 2023;57:695-711)",
        rules: vec![
            "Stay at each stage for at least 24 hours.",
            "If symptoms worsen more than mildly and briefly, stop and go back one stage.",
            "No full-contact training (stage 5) until a doctor has cleared the client.",
            "This applies until a clinician shares their own guidance.",
        ],
        stages: vec![
            stage(
                1,
                "Symptom-limited activity",
                "Daily activities that do not make symptoms worse.",
                "Gradual return to work or study",
            ),
            stage(
                2,
                "Aerobic exercise",
                "Walking or stationary cycling, light then moderate pace; light resistance training.",
                "Raise the heart rate",
            ),
            stage(
                3,
                "Individual sport-specific exercise",
                "Running or drills away from any risk of head impact.",
                "Add movement",
            ),
            stage(
                4,
                "Non-contact training drills",
                "Harder training and drills, still without contact.",
                "Exercise, coordination and thinking",
            ),
            stage(
                5,
                "Full-contact practice",
                "Normal training, after a doctor's clearance.",
                "Restore confidence",
            ),
            stage(
                6,
                "Return to sport",
                "Normal competition or unrestricted training.",
                "Back to normal",
            ),
        ],
    }
}
