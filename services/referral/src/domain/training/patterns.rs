//! The movement patterns guidance and sessions are written in
//! (docs/training.md): coarse enough for a trainer to tag any exercise,
//! fine enough for a physio to say what to keep off an injury.

use spotter_platform::coded;
use spotter_platform::vocabulary::BodyRegion;

coded! {
    /// A family of exercises that load the body the same way.
    pub enum MovementPattern {
        Squat = "squat",
        Hinge = "hinge",
        Lunge = "lunge",
        JumpLanding = "jump_landing",
        Sprint = "sprint",
        Run = "run",
        OverheadPress = "overhead_press",
        HorizontalPress = "horizontal_press",
        Pull = "pull",
        Rotation = "rotation",
        Carry = "carry",
        Kneeling = "kneeling",
        Impact = "impact",
    }
}

impl MovementPattern {
    /// The body regions the pattern puts load through, so the app can
    /// suggest what to avoid for an injured region.
    pub fn loads(self) -> &'static [BodyRegion] {
        use BodyRegion::*;
        match self {
            Self::Squat => &[Hip, Knee, AnkleFoot, LowerBack],
            Self::Hinge => &[LowerBack, Hip],
            Self::Lunge => &[Hip, Knee, AnkleFoot],
            Self::JumpLanding | Self::Sprint | Self::Run => &[Hip, Knee, AnkleFoot],
            Self::OverheadPress => &[Shoulder, Elbow, Neck, UpperBack],
            Self::HorizontalPress => &[Shoulder, Elbow, WristHand],
            Self::Pull => &[Shoulder, Elbow, WristHand, UpperBack],
            Self::Rotation => &[LowerBack, UpperBack, Hip],
            Self::Carry => &[WristHand, Shoulder, LowerBack],
            Self::Kneeling => &[Knee],
            Self::Impact => &[AnkleFoot, Knee, Hip, LowerBack],
        }
    }
}
