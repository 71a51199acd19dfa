//! A trainer's answers, checked against the version they answered: every
//! question asked is answered (a missing answer is an error, never a
//! default), nothing is answered that was not asked, and each answer has its
//! question's type.

use super::questionnaire::{AnswerType, CANONICAL, CODE_SYSTEM, Questionnaire, Subject, Value};
use crate::domain::vocabulary::BodyRegion;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use spotter_platform::FieldError;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// An answer as sent: `true`/`false` for a yes/no question, a code for a
/// choice.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Answer {
    Bool(bool),
    Code(String),
}

/// The answers the rules read, with what the report says beside them.
/// Built only by [`check`] (a questionnaire's answers) or
/// [`super::legacy::from_red_flags`] (the deprecated checklist).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screen {
    pub pain_level: i64,
    pub(super) answers: BTreeMap<&'static str, Value>,
}

impl Screen {
    pub(super) fn new(pain_level: i64) -> Self {
        Self {
            pain_level,
            answers: BTreeMap::new(),
        }
    }

    pub fn answer(&self, link_id: &str) -> Option<Value> {
        self.answers.get(link_id).copied()
    }

    /// Answered yes.
    pub fn yes(&self, link_id: &str) -> bool {
        self.answer(link_id) == Some(Value::Bool(true))
    }

    /// Answered no (not merely left unanswered).
    pub fn no(&self, link_id: &str) -> bool {
        self.answer(link_id) == Some(Value::Bool(false))
    }

    pub fn code(&self, link_id: &str) -> Option<&'static str> {
        match self.answer(link_id) {
            Some(Value::Code(code)) => Some(code),
            _ => None,
        }
    }

    /// The answers as a FHIR R4 QuestionnaireResponse, the form a referral
    /// stores them in (so they export as they are).
    pub fn to_fhir(&self, questionnaire: &Questionnaire, authored: &str) -> Json {
        let item: Vec<Json> = questionnaire
            .items
            .iter()
            .filter_map(|question| {
                let answer = match self.answer(question.link_id)? {
                    Value::Bool(b) => json!({"valueBoolean": b}),
                    Value::Code(code) => {
                        json!({"valueCoding": {"system": CODE_SYSTEM, "code": code}})
                    }
                };
                Some(json!({"linkId": question.link_id, "text": question.text, "answer": [answer]}))
            })
            .collect();
        json!({
            "resourceType": "QuestionnaireResponse",
            "questionnaire": format!("{CANONICAL}|{}", questionnaire.version),
            "status": "completed",
            "authored": authored,
            "item": item,
        })
    }
}

/// The answers of a stored QuestionnaireResponse of `questionnaire`, by
/// link id; `None` when it is not one (corrupt, or of another version).
pub fn answers_from_fhir(
    questionnaire: &Questionnaire,
    response: &Json,
) -> Option<BTreeMap<&'static str, Value>> {
    let mut answers = BTreeMap::new();
    for item in response.get("item")?.as_array()? {
        let question = questionnaire.item(item.get("linkId")?.as_str()?)?;
        let answer = item.get("answer")?.get(0)?;
        let value = match &question.answer {
            AnswerType::Boolean => Value::Bool(answer.get("valueBoolean")?.as_bool()?),
            AnswerType::Choice(choices) => {
                let code = answer.get("valueCoding")?.get("code")?.as_str()?;
                Value::Code(choices.iter().find(|c| c.code == code)?.code)
            }
        };
        answers.insert(question.link_id, value);
    }
    Some(answers)
}

/// Checks `answers` against `questionnaire`; errors name
/// `<field>.<link id>`.
pub fn check(
    questionnaire: &'static Questionnaire,
    body_region: BodyRegion,
    pain_level: i64,
    answers: &BTreeMap<String, Answer>,
    field: &str,
) -> Result<Screen, Vec<FieldError>> {
    let mut screen = Screen::new(pain_level);
    let mut errors = Vec::new();
    let version = questionnaire.version;
    for key in answers.keys() {
        if questionnaire.item(key).is_none() {
            errors.push(FieldError::new(
                format!("{field}.{key}"),
                format!("is not a question of questionnaire version {version}"),
            ));
        }
    }
    for question in questionnaire.items {
        let name = format!("{field}.{}", question.link_id);
        let asked = question.enable_when.iter().all(|condition| {
            let value = match condition.subject {
                Subject::Answer(id) => screen.answer(id),
                Subject::BodyRegion => Some(Value::Code(body_region.as_str())),
            };
            value.is_some_and(|v| condition.one_of.contains(&v))
        });
        let given = answers.get(question.link_id);
        match (asked, given) {
            (false, None) => {}
            (false, Some(_)) => errors.push(FieldError::new(
                name,
                "is not asked given the other answers and the body region; leave it out",
            )),
            (true, None) => errors.push(FieldError::new(name, "is required")),
            (true, Some(answer)) => match typed(&question.answer, answer) {
                Some(value) => {
                    screen.answers.insert(question.link_id, value);
                }
                None => errors.push(FieldError::new(name, expected(&question.answer))),
            },
        }
    }
    if errors.is_empty() {
        Ok(screen)
    } else {
        Err(errors)
    }
}

fn typed(kind: &AnswerType, answer: &Answer) -> Option<Value> {
    match (kind, answer) {
        (AnswerType::Boolean, Answer::Bool(b)) => Some(Value::Bool(*b)),
        (AnswerType::Choice(choices), Answer::Code(code)) => choices
            .iter()
            .find(|c| c.code == code)
            .map(|c| Value::Code(c.code)),
        _ => None,
    }
}

fn expected(kind: &AnswerType) -> String {
    match kind {
        AnswerType::Boolean => "must be true or false".to_owned(),
        AnswerType::Choice(choices) => {
            let codes: Vec<&str> = choices.iter().map(|c| c.code).collect();
            format!("must be one of: {}", codes.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::questionnaire::{V1, function, onset, q};
    use super::*;

    fn answers(pairs: &[(&str, Answer)]) -> BTreeMap<String, Answer> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn no(id: &str) -> (&str, Answer) {
        (id, Answer::Bool(false))
    }

    /// Everything asked of a gradual shoulder problem, all "no".
    fn shoulder_all_clear() -> Vec<(&'static str, Answer)> {
        vec![
            no(q::EXERTIONAL_CHEST_SYMPTOMS),
            no(q::HEAD_IMPACT),
            no(q::OBVIOUS_DEFORMITY),
            (q::ONSET, Answer::Code(onset::GRADUAL.into())),
            no(q::NERVE_SYMPTOMS),
            no(q::UNRELENTING_NIGHT_PAIN),
            (q::FUNCTION, Answer::Code(function::NORMAL.into())),
        ]
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_complete_answer_set_is_accepted() {
        let screen = check(
            &V1,
            BodyRegion::Shoulder,
            3,
            &answers(&shoulder_all_clear()),
            "a",
        )
        .expect("complete");
        assert!(screen.no(q::HEAD_IMPACT));
        assert_eq!(screen.code(q::ONSET), Some(onset::GRADUAL));
    }

    #[test]
    fn a_missing_answer_is_named_never_defaulted() {
        let mut given = shoulder_all_clear();
        given.retain(|(id, _)| *id != q::NERVE_SYMPTOMS);
        let errors = check(&V1, BodyRegion::Shoulder, 3, &answers(&given), "a").unwrap_err();
        assert_eq!(fields(errors), ["a.nerve_symptoms"]);
    }

    #[test]
    fn a_follow_up_question_is_required_once_its_condition_holds() {
        let mut given = shoulder_all_clear();
        given[1] = (q::HEAD_IMPACT, Answer::Bool(true));
        let errors = check(&V1, BodyRegion::Shoulder, 3, &answers(&given), "a").unwrap_err();
        assert_eq!(
            fields(errors),
            ["a.head_impact_danger_signs", "a.concussion_symptoms"]
        );
    }

    #[test]
    fn region_questions_are_asked_only_for_their_regions() {
        let mut given = shoulder_all_clear();
        let errors = check(&V1, BodyRegion::LowerBack, 3, &answers(&given), "a").unwrap_err();
        assert_eq!(
            fields(errors),
            [
                "a.saddle_numbness_or_bladder_bowel",
                "a.fever_or_unwell",
                "a.cancer_history"
            ]
        );
        given.push(no(q::CANCER_HISTORY));
        let errors = check(&V1, BodyRegion::Shoulder, 3, &answers(&given), "a").unwrap_err();
        assert_eq!(fields(errors), ["a.cancer_history"]);
    }

    #[test]
    fn unknown_questions_and_wrong_types_are_named() {
        let mut given = shoulder_all_clear();
        given.push(("made_up", Answer::Bool(true)));
        given[0] = (q::EXERTIONAL_CHEST_SYMPTOMS, Answer::Code("yes".into()));
        given[3] = (q::ONSET, Answer::Code("slowly".into()));
        let errors = check(&V1, BodyRegion::Shoulder, 3, &answers(&given), "a").unwrap_err();
        assert_eq!(
            fields(errors),
            ["a.made_up", "a.exertional_chest_symptoms", "a.onset"]
        );
    }

    #[test]
    fn the_stored_form_reads_back_the_same() {
        let mut given = shoulder_all_clear();
        given[3] = (q::ONSET, Answer::Code(onset::IMPACT_OR_FALL.into()));
        given.push(no(q::SUSPECTED_FRACTURE));
        let screen = check(&V1, BodyRegion::Shoulder, 5, &answers(&given), "a").unwrap();
        let stored = screen.to_fhir(&V1, "2026-12-02T10:00:00Z");
        assert_eq!(stored["resourceType"], "QuestionnaireResponse");
        assert_eq!(stored["questionnaire"], format!("{CANONICAL}|1"));
        assert_eq!(answers_from_fhir(&V1, &stored), Some(screen.answers));
    }
}
