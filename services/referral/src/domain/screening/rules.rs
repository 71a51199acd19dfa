//! The triage rules of questionnaire version 1 (docs/triage.md lists them
//! with their sources). Each is a named function of the answers; the
//! disposition is the most serious level any rule reaches. No rule ever
//! lowers a level another rule set, so a positive answer cannot make the
//! outcome less serious (a property test checks).
//!
//! Single red flags predict serious pathology poorly (Finucane et al.,
//! "International Framework for Red Flags for Potential Serious Spinal
//! Pathologies", JOSPT 2020;50(7):350-372), so a sign sends the client to a
//! doctor only where a published rule or framework says so; the rest make
//! the physio booking urgent.

use super::answers::Screen;
use super::questionnaire::{function, onset, q};

/// How serious: later is more serious. The order is the safety order the
/// rules and the property tests rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// A physio within 7 days.
    Routine,
    /// A physio within 48 hours.
    Urgent,
    /// A doctor today (a GP or urgent care), not a physio.
    SeeDoctorToday,
    /// Emergency services now.
    EmergencyNow,
}

pub struct Rule {
    /// Stable name, stored with the referral and shown in docs/triage.md.
    pub id: &'static str,
    pub level: Level,
    pub applies: fn(&Screen) -> bool,
}

/// The rule after which the staged return to training applies
/// (`return_to_sport`) until a clinician's guidance replaces it.
pub const POSSIBLE_CONCUSSION: &str = "possible_concussion";

/// Pain at or above this makes the physio booking urgent.
pub const URGENT_PAIN: i64 = 7;
/// After a sudden injury, pain at or above this makes it urgent too.
pub const URGENT_ACUTE_PAIN: i64 = 5;

pub const RULES: &[Rule] = &[
    Rule {
        id: "exertional_chest_symptoms",
        level: Level::EmergencyNow,
        applies: exertional_chest_symptoms,
    },
    Rule {
        id: "head_impact_danger_signs",
        level: Level::EmergencyNow,
        applies: head_impact_danger_signs,
    },
    Rule {
        id: "cauda_equina_signs",
        level: Level::EmergencyNow,
        applies: cauda_equina_signs,
    },
    Rule {
        id: "obvious_deformity",
        level: Level::EmergencyNow,
        applies: obvious_deformity,
    },
    Rule {
        id: POSSIBLE_CONCUSSION,
        level: Level::SeeDoctorToday,
        applies: possible_concussion,
    },
    Rule {
        id: "ottawa_unable_to_bear_weight",
        level: Level::SeeDoctorToday,
        applies: ottawa_unable_to_bear_weight,
    },
    Rule {
        id: "ottawa_ankle_bone_tenderness",
        level: Level::SeeDoctorToday,
        applies: ottawa_ankle_bone_tenderness,
    },
    Rule {
        id: "ottawa_knee_findings",
        level: Level::SeeDoctorToday,
        applies: ottawa_knee_findings,
    },
    Rule {
        id: "suspected_fracture",
        level: Level::SeeDoctorToday,
        applies: suspected_fracture,
    },
    Rule {
        id: "spinal_pain_with_fever",
        level: Level::SeeDoctorToday,
        applies: spinal_pain_with_fever,
    },
    Rule {
        id: "spinal_pain_with_cancer_history",
        level: Level::SeeDoctorToday,
        applies: spinal_pain_with_cancer_history,
    },
    Rule {
        id: "progressive_neurological_deficit",
        level: Level::SeeDoctorToday,
        applies: progressive_neurological_deficit,
    },
    Rule {
        id: "severe_pain",
        level: Level::Urgent,
        applies: severe_pain,
    },
    Rule {
        id: "acute_injury_with_moderate_pain",
        level: Level::Urgent,
        applies: acute_injury_with_moderate_pain,
    },
    Rule {
        id: "daily_function_limited",
        level: Level::Urgent,
        applies: daily_function_limited,
    },
    Rule {
        id: "stable_nerve_symptoms",
        level: Level::Urgent,
        applies: stable_nerve_symptoms,
    },
    Rule {
        id: "unrelenting_night_pain",
        level: Level::Urgent,
        applies: unrelenting_night_pain,
    },
];

/// Source: PAR-Q+ (2023), question 1 (chest pain during physical activity),
/// and ACSM's Guidelines for Exercise Testing and Prescription, 11th ed.
/// (2021), ch. 2: exertional chest discomfort or disproportionate dyspnoea
/// are signs of cardiovascular disease; stop and seek emergency care.
pub fn exertional_chest_symptoms(s: &Screen) -> bool {
    s.yes(q::EXERTIONAL_CHEST_SYMPTOMS)
}

/// Source: Concussion Recognition Tool 6 (CRT6; Echemendia et al., BJSM
/// 2023;57:692-694), "red flags: call an ambulance" (loss of consciousness,
/// seizure, deteriorating state, repeated vomiting, double vision, limb
/// weakness or tingling, neck pain).
pub fn head_impact_danger_signs(s: &Screen) -> bool {
    s.yes(q::HEAD_IMPACT_DANGER_SIGNS)
}

/// Source: Finucane et al. (IFOMPT framework, JOSPT 2020): cauda equina
/// syndrome (saddle anaesthesia, new bladder or bowel dysfunction with back
/// pain) is an emergency; GIRFT National Suspected Cauda Equina Syndrome
/// Pathway (NHS England, 2023): same-day emergency referral.
pub fn cauda_equina_signs(s: &Screen) -> bool {
    s.yes(q::SADDLE_NUMBNESS_OR_BLADDER_BOWEL)
}

/// Source: first-aid guidance (IFRC International First Aid, Resuscitation
/// and Education Guidelines 2020): an angulated limb or open fracture calls
/// for emergency services; do not straighten it.
pub fn obvious_deformity(s: &Screen) -> bool {
    s.yes(q::OBVIOUS_DEFORMITY)
}

/// Source: CRT6 (2023) and the Amsterdam 2022 consensus on concussion in
/// sport (Patricios et al., BJSM 2023;57:695-711): any symptom after a head
/// impact means removal from activity and medical assessment ("if in doubt,
/// sit them out"). Symptoms not asked about (a report through the
/// deprecated checklist) count as present.
pub fn possible_concussion(s: &Screen) -> bool {
    s.yes(q::HEAD_IMPACT) && !s.no(q::CONCUSSION_SYMPTOMS)
}

/// Source: Ottawa ankle rules (Stiell et al., Ann Emerg Med 1992;21:384-390)
/// and Ottawa knee rule (Stiell et al., JAMA 1996;275:611-615): inability to
/// bear weight for four steps, both at once and at examination, calls for an
/// X-ray. A hip that cannot take weight after a fall is treated alike.
pub fn ottawa_unable_to_bear_weight(s: &Screen) -> bool {
    s.yes(q::UNABLE_TO_BEAR_WEIGHT)
}

/// Source: Ottawa ankle and foot rules (Stiell et al., 1992; JAMA
/// 1993;269:1127-1132): bone tenderness at the posterior edge or tip of
/// either malleolus, the base of the fifth metatarsal or the navicular.
pub fn ottawa_ankle_bone_tenderness(s: &Screen) -> bool {
    s.yes(q::ANKLE_BONE_TENDERNESS)
}

/// Source: Ottawa knee rule (Stiell et al., JAMA 1996): age 55 or over,
/// isolated patellar tenderness, fibular head tenderness, or inability to
/// flex to 90 degrees.
pub fn ottawa_knee_findings(s: &Screen) -> bool {
    s.yes(q::KNEE_FRACTURE_SIGNS)
}

/// Source: NICE guideline NG38, Fractures (non-complex): assessment and
/// management (2016): a suspected fracture is imaged before treatment.
pub fn suspected_fracture(s: &Screen) -> bool {
    s.yes(q::SUSPECTED_FRACTURE)
}

/// Source: Finucane et al. (JOSPT 2020): fever or systemic illness with
/// spinal pain raises the suspicion of spinal infection; medical review.
pub fn spinal_pain_with_fever(s: &Screen) -> bool {
    s.yes(q::FEVER_OR_UNWELL)
}

/// Source: Finucane et al. (JOSPT 2020) and Downie et al. (BMJ
/// 2013;347:f7095): a history of cancer is the one red flag that meaningfully
/// raises the probability of spinal malignancy; medical review.
pub fn spinal_pain_with_cancer_history(s: &Screen) -> bool {
    s.yes(q::CANCER_HISTORY)
}

/// Source: Finucane et al. (JOSPT 2020) and NICE NG59, Low back pain and
/// sciatica (2016): progressive neurological deficit needs medical review.
pub fn progressive_neurological_deficit(s: &Screen) -> bool {
    s.yes(q::NERVE_SYMPTOMS_WORSENING)
}

/// Spotter's own threshold, unchanged from before the questionnaire: pain
/// of 7-10 on the numeric rating scale is "severe" by the usual cut-points
/// (Serlin et al., Pain 1995;61:277-284).
pub fn severe_pain(s: &Screen) -> bool {
    s.pain_level >= URGENT_PAIN
}

/// Spotter's own rule (no published threshold): an injury of sudden onset
/// with at least moderate pain is seen within 48 hours.
pub fn acute_injury_with_moderate_pain(s: &Screen) -> bool {
    let acute = matches!(
        s.code(q::ONSET),
        Some(onset::SUDDEN_DURING_MOVEMENT | onset::IMPACT_OR_FALL)
    );
    acute && s.pain_level >= URGENT_ACUTE_PAIN
}

/// Spotter's own rule: a client who struggles with everyday activities is
/// seen within 48 hours.
pub fn daily_function_limited(s: &Screen) -> bool {
    s.code(q::FUNCTION) == Some(function::DAILY_LIFE_LIMITED)
}

/// Source: Finucane et al. (JOSPT 2020): stable neurological symptoms alone
/// are not a red flag; Spotter books them sooner rather than sending the
/// client to a doctor.
pub fn stable_nerve_symptoms(s: &Screen) -> bool {
    s.yes(q::NERVE_SYMPTOMS)
}

/// Source: Finucane et al. (JOSPT 2020): night pain alone has poor
/// diagnostic accuracy for serious pathology; Spotter books it sooner.
pub fn unrelenting_night_pain(s: &Screen) -> bool {
    s.yes(q::UNRELENTING_NIGHT_PAIN)
}
