//! The screening questionnaire the trainer answers with the client
//! (docs/triage.md). The server defines it and the app renders it, so the
//! two cannot drift apart. A version is immutable once released: a new
//! question, wording that changes meaning, or a new rule is a new version,
//! and a referral keeps the version it was triaged with.

use crate::domain::vocabulary::BodyRegion;

/// Every released version, oldest first; the last is the one served.
pub const VERSIONS: &[&Questionnaire] = &[&V1];

pub fn current() -> &'static Questionnaire {
    VERSIONS[VERSIONS.len() - 1]
}

pub fn version(number: i32) -> Option<&'static Questionnaire> {
    VERSIONS.iter().copied().find(|q| q.version == number)
}

/// The questionnaire's identity when exported (a FHIR canonical URL is a
/// URI; a URN needs no domain Spotter may not own).
pub const CANONICAL: &str = "urn:spotter:questionnaire:injury-screening";

/// The codes of the choice answers when exported as FHIR codings.
pub const CODE_SYSTEM: &str = "urn:spotter:codesystem:injury-screening";

#[derive(Debug)]
pub struct Questionnaire {
    pub version: i32,
    pub title: &'static str,
    /// Questions in the order they are asked. A condition only ever refers
    /// to a question before it (a test checks), so one pass in this order
    /// decides what is asked.
    pub items: &'static [Item],
}

impl Questionnaire {
    pub fn item(&self, link_id: &str) -> Option<&'static Item> {
        self.items.iter().find(|item| item.link_id == link_id)
    }
}

#[derive(Debug)]
pub struct Item {
    /// The answer's key: stable within a version.
    pub link_id: &'static str,
    pub text: &'static str,
    /// Plain-language help for the trainer: what to look or ask for.
    pub help: &'static str,
    pub answer: AnswerType,
    /// Asked only when every condition holds; every question asked must be
    /// answered.
    pub enable_when: &'static [Condition],
}

#[derive(Debug)]
pub enum AnswerType {
    Boolean,
    /// One of these codes. Listed from least to most concerning: a later
    /// choice never lowers the disposition (a property test checks).
    Choice(&'static [Choice]),
}

#[derive(Debug)]
pub struct Choice {
    pub code: &'static str,
    pub display: &'static str,
}

/// What a condition looks at: an earlier answer, or the report's body region.
#[derive(Debug, Clone, Copy)]
pub enum Subject {
    Answer(&'static str),
    BodyRegion,
}

/// A value a condition compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Bool(bool),
    Code(&'static str),
}

/// As the API shows an answer: `true`/`false`, or the code.
impl From<Value> for serde_json::Value {
    fn from(value: Value) -> Self {
        match value {
            Value::Bool(b) => Self::Bool(b),
            Value::Code(code) => Self::String(code.to_owned()),
        }
    }
}

/// Holds when the subject's value is one of `one_of`.
#[derive(Debug)]
pub struct Condition {
    pub subject: Subject,
    pub one_of: &'static [Value],
}

/// The link ids of version 1, named once for the rules and the legacy map.
pub mod q {
    pub const EXERTIONAL_CHEST_SYMPTOMS: &str = "exertional_chest_symptoms";
    pub const HEAD_IMPACT: &str = "head_impact";
    pub const HEAD_IMPACT_DANGER_SIGNS: &str = "head_impact_danger_signs";
    pub const CONCUSSION_SYMPTOMS: &str = "concussion_symptoms";
    pub const OBVIOUS_DEFORMITY: &str = "obvious_deformity";
    pub const ONSET: &str = "onset";
    pub const SUSPECTED_FRACTURE: &str = "suspected_fracture";
    pub const UNABLE_TO_BEAR_WEIGHT: &str = "unable_to_bear_weight";
    pub const ANKLE_BONE_TENDERNESS: &str = "ankle_bone_tenderness";
    pub const KNEE_FRACTURE_SIGNS: &str = "knee_fracture_signs";
    pub const SADDLE_NUMBNESS_OR_BLADDER_BOWEL: &str = "saddle_numbness_or_bladder_bowel";
    pub const FEVER_OR_UNWELL: &str = "fever_or_unwell";
    pub const CANCER_HISTORY: &str = "cancer_history";
    pub const NERVE_SYMPTOMS: &str = "nerve_symptoms";
    pub const NERVE_SYMPTOMS_WORSENING: &str = "nerve_symptoms_worsening";
    pub const UNRELENTING_NIGHT_PAIN: &str = "unrelenting_night_pain";
    pub const FUNCTION: &str = "function";
}

/// `onset` codes.
pub mod onset {
    pub const GRADUAL: &str = "gradual";
    pub const SUDDEN_DURING_MOVEMENT: &str = "sudden_during_movement";
    pub const IMPACT_OR_FALL: &str = "impact_or_fall";
}

/// `function` codes.
pub mod function {
    pub const NORMAL: &str = "normal";
    pub const TRAINING_LIMITED: &str = "training_limited";
    pub const DAILY_LIFE_LIMITED: &str = "daily_life_limited";
}

const YES: &[Value] = &[Value::Bool(true)];
const ACUTE: &[Value] = &[
    Value::Code(onset::SUDDEN_DURING_MOVEMENT),
    Value::Code(onset::IMPACT_OR_FALL),
];
const SPINE: &[Value] = &[
    Value::Code(BodyRegion::Neck.as_str()),
    Value::Code(BodyRegion::UpperBack.as_str()),
    Value::Code(BodyRegion::LowerBack.as_str()),
];

const fn when(link_id: &'static str, one_of: &'static [Value]) -> Condition {
    Condition {
        subject: Subject::Answer(link_id),
        one_of,
    }
}

const fn region_in(one_of: &'static [Value]) -> Condition {
    Condition {
        subject: Subject::BodyRegion,
        one_of,
    }
}

const fn yes_no(
    link_id: &'static str,
    text: &'static str,
    help: &'static str,
    enable_when: &'static [Condition],
) -> Item {
    Item {
        link_id,
        text,
        help,
        answer: AnswerType::Boolean,
        enable_when,
    }
}

pub const V1: Questionnaire = Questionnaire {
    version: 1,
    title: "Injury screening for trainers",
    items: &[
        yes_no(
            q::EXERTIONAL_CHEST_SYMPTOMS,
            "Did the client have chest pain, chest pressure, or breathlessness out of proportion to the effort, during or just after exercise?",
            "Ask about tightness or pain in the chest, arm or jaw, and about being short of breath at an effort that is usually easy.",
            &[],
        ),
        yes_no(
            q::HEAD_IMPACT,
            "Did the client hit their head, or take a blow or fall that jolted the head?",
            "Include a whiplash-like jolt without a direct hit.",
            &[],
        ),
        yes_no(
            q::HEAD_IMPACT_DANGER_SIGNS,
            "Since then, have they lost consciousness, had a seizure, or got worse: repeated vomiting, increasing confusion or drowsiness, a worsening headache, double vision, weakness or tingling in arms or legs, or neck pain?",
            "These are the danger signs of the Concussion Recognition Tool: any one means calling an ambulance.",
            &[when(q::HEAD_IMPACT, YES)],
        ),
        yes_no(
            q::CONCUSSION_SYMPTOMS,
            "Do they have any concussion symptom: headache, dizziness, blurred vision, nausea, sensitivity to light or noise, feeling slowed down or 'in a fog', confusion, or memory problems?",
            "If you are unsure, answer yes: if in doubt, sit them out.",
            &[when(q::HEAD_IMPACT, YES)],
        ),
        yes_no(
            q::OBVIOUS_DEFORMITY,
            "Is there a visible deformity: a limb or joint at an abnormal angle, or bone through the skin?",
            "Do not move the limb to check.",
            &[],
        ),
        Item {
            link_id: q::ONSET,
            text: "How did it start?",
            help: "Pick the closest.",
            answer: AnswerType::Choice(&[
                Choice {
                    code: onset::GRADUAL,
                    display: "Gradually, over days or weeks",
                },
                Choice {
                    code: onset::SUDDEN_DURING_MOVEMENT,
                    display: "Suddenly during a movement (a twist, a landing, a lift)",
                },
                Choice {
                    code: onset::IMPACT_OR_FALL,
                    display: "From an impact, a collision or a fall",
                },
            ]),
            enable_when: &[],
        },
        yes_no(
            q::SUSPECTED_FRACTURE,
            "Could a bone be broken or a joint dislocated: a crack heard or felt, rapid swelling, or the joint felt out of place?",
            "Answer yes if you are unsure.",
            &[when(q::ONSET, ACUTE)],
        ),
        yes_no(
            q::UNABLE_TO_BEAR_WEIGHT,
            "Was the client unable to take four steps on the leg, both straight after the injury and now?",
            "Four steps counts even with a limp; being unable to transfer weight twice onto each foot means no.",
            &[
                when(q::ONSET, ACUTE),
                region_in(&[
                    Value::Code(BodyRegion::Hip.as_str()),
                    Value::Code(BodyRegion::Knee.as_str()),
                    Value::Code(BodyRegion::AnkleFoot.as_str()),
                ]),
            ],
        ),
        yes_no(
            q::ANKLE_BONE_TENDERNESS,
            "Is it painful to press the back edge or the tip of either ankle bone, the base of the fifth metatarsal (the bump half-way along the outer edge of the foot), or the navicular (the bump on the inner side of the midfoot)?",
            "Press firmly with one finger on each point in turn.",
            &[
                when(q::ONSET, ACUTE),
                region_in(&[Value::Code(BodyRegion::AnkleFoot.as_str())]),
            ],
        ),
        yes_no(
            q::KNEE_FRACTURE_SIGNS,
            "Is any of these true: the client is 55 or older; the kneecap alone is tender to press; the bony bump on the outer side just below the knee is tender; or they cannot bend the knee to a right angle?",
            "Check each in turn; any one counts.",
            &[
                when(q::ONSET, ACUTE),
                region_in(&[Value::Code(BodyRegion::Knee.as_str())]),
            ],
        ),
        yes_no(
            q::SADDLE_NUMBNESS_OR_BLADDER_BOWEL,
            "Along with the back pain, is there numbness around the groin, buttocks or inner thighs, or any new difficulty passing or holding urine or stools?",
            "Ask privately and plainly; these are easy to miss and time matters.",
            &[region_in(&[Value::Code(BodyRegion::LowerBack.as_str())])],
        ),
        yes_no(
            q::FEVER_OR_UNWELL,
            "Along with the pain, does the client have a fever or feel generally unwell?",
            "Include night sweats, chills, or recent unexplained weight loss.",
            &[region_in(SPINE)],
        ),
        yes_no(
            q::CANCER_HISTORY,
            "Has the client ever had cancer?",
            "Any cancer, at any time, treated or not.",
            &[region_in(SPINE)],
        ),
        yes_no(
            q::NERVE_SYMPTOMS,
            "Does the client have numbness, pins and needles, or weakness?",
            "In the injured area or spreading from it, e.g. down an arm or a leg.",
            &[],
        ),
        yes_no(
            q::NERVE_SYMPTOMS_WORSENING,
            "Is the numbness, tingling or weakness getting worse or spreading?",
            "Compared with when it started.",
            &[when(q::NERVE_SYMPTOMS, YES)],
        ),
        yes_no(
            q::UNRELENTING_NIGHT_PAIN,
            "Is there severe pain at night that no position eases?",
            "Not pain on rolling onto the injured side, which eases again.",
            &[],
        ),
        Item {
            link_id: q::FUNCTION,
            text: "What can the client do at the moment?",
            help: "Think of their usual day, not their training plan.",
            answer: AnswerType::Choice(&[
                Choice {
                    code: function::NORMAL,
                    display: "Everything as usual, including training",
                },
                Choice {
                    code: function::TRAINING_LIMITED,
                    display: "Daily life as usual, but training is limited",
                },
                Choice {
                    code: function::DAILY_LIFE_LIMITED,
                    display: "Everyday activities are hard (walking, dressing, work)",
                },
            ]),
            enable_when: &[],
        },
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn conditions_refer_only_to_earlier_questions_of_the_same_version() {
        for questionnaire in VERSIONS {
            let mut seen = HashSet::new();
            for item in questionnaire.items {
                for condition in item.enable_when {
                    if let Subject::Answer(id) = condition.subject {
                        assert!(seen.contains(id), "{} refers to {id}", item.link_id);
                    }
                }
                assert!(seen.insert(item.link_id), "{} twice", item.link_id);
            }
        }
    }

    #[test]
    fn conditions_compare_with_values_their_subject_can_take() {
        for questionnaire in VERSIONS {
            for item in questionnaire.items {
                for condition in item.enable_when {
                    for value in condition.one_of {
                        let fits = match (condition.subject, value) {
                            (Subject::BodyRegion, Value::Code(code)) => {
                                code.parse::<BodyRegion>().is_ok()
                            }
                            (Subject::Answer(id), value) => {
                                match (&questionnaire.item(id).unwrap().answer, value) {
                                    (AnswerType::Boolean, Value::Bool(_)) => true,
                                    (AnswerType::Choice(choices), Value::Code(code)) => {
                                        choices.iter().any(|c| c.code == *code)
                                    }
                                    _ => false,
                                }
                            }
                            _ => false,
                        };
                        assert!(fits, "{}: {value:?}", item.link_id);
                    }
                }
            }
        }
    }

    #[test]
    fn versions_are_numbered_in_order() {
        for (i, questionnaire) in VERSIONS.iter().enumerate() {
            assert_eq!(questionnaire.version, i as i32 + 1);
        }
        assert_eq!(current().version, 1);
        assert!(version(2).is_none());
    }
}
