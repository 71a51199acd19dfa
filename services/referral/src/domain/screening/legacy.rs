//! The deprecated `red_flags` checklist (docs/triage.md, "The deprecated
//! checklist"): kept for one version as a shortcut onto the questionnaire's
//! answers, so older apps keep working while the rules stay one set. A
//! ticked flag is a "yes" to the nearest question; nothing else counts as
//! answered, and rules that need an answer the checklist cannot give treat
//! it as unknown (a head impact without its symptom question is a possible
//! concussion).

use super::answers::Screen;
use super::questionnaire::{Value, q};
use crate::domain::vocabulary::RedFlag;

/// The question each checklist flag answers "yes".
pub fn question_for(flag: RedFlag) -> &'static str {
    match flag {
        RedFlag::NumbnessOrTingling => q::NERVE_SYMPTOMS,
        RedFlag::BladderOrBowelChange => q::SADDLE_NUMBNESS_OR_BLADDER_BOWEL,
        RedFlag::ChestPainOrBreathlessness => q::EXERTIONAL_CHEST_SYMPTOMS,
        RedFlag::HeadInjury => q::HEAD_IMPACT,
        RedFlag::SuspectedFractureOrDislocation => q::SUSPECTED_FRACTURE,
        RedFlag::UnableToBearWeight => q::UNABLE_TO_BEAR_WEIGHT,
        RedFlag::FeverOrUnexplainedWeightLoss => q::FEVER_OR_UNWELL,
        RedFlag::SevereNightPain => q::UNRELENTING_NIGHT_PAIN,
    }
}

pub fn from_red_flags(pain_level: i64, flags: &[RedFlag]) -> Screen {
    let mut screen = Screen::new(pain_level);
    for flag in flags {
        screen
            .answers
            .insert(question_for(*flag), Value::Bool(true));
    }
    screen
}
