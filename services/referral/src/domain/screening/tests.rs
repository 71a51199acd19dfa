//! Table tests for each rule and disposition, and the safety properties of
//! docs/triage.md checked over generated answer sets.

use super::answers::answers_from_fhir;
use super::questionnaire::{AnswerType, V1, Value, function, onset, q};
use super::rules::{self, Level, RULES};
use super::*;
use crate::domain::vocabulary::{BodyRegion, RedFlag};
use proptest::prelude::*;

/// `_region` names the case's body region for the reader: the rules see a
/// region only through which questions were asked.
fn screen(_region: BodyRegion, pain: i64, yes: &[&'static str]) -> Screen {
    let mut s = Screen::new(pain);
    for id in yes {
        s.answers.insert(id, Value::Bool(true));
    }
    s
}

fn with(mut s: Screen, id: &'static str, value: Value) -> Screen {
    s.answers.insert(id, value);
    s
}

#[test]
fn each_rule_reaches_its_level_alone() {
    use BodyRegion::*;
    use Level::*;
    let cases: &[(&str, Screen, Level)] = &[
        (
            "exertional_chest_symptoms",
            screen(Shoulder, 2, &[q::EXERTIONAL_CHEST_SYMPTOMS]),
            EmergencyNow,
        ),
        (
            "head_impact_danger_signs",
            screen(Neck, 2, &[q::HEAD_IMPACT, q::HEAD_IMPACT_DANGER_SIGNS]),
            EmergencyNow,
        ),
        (
            "cauda_equina_signs",
            screen(LowerBack, 2, &[q::SADDLE_NUMBNESS_OR_BLADDER_BOWEL]),
            EmergencyNow,
        ),
        (
            "obvious_deformity",
            screen(Elbow, 2, &[q::OBVIOUS_DEFORMITY]),
            EmergencyNow,
        ),
        (
            "possible_concussion",
            screen(Neck, 2, &[q::HEAD_IMPACT, q::CONCUSSION_SYMPTOMS]),
            SeeDoctorToday,
        ),
        (
            "ottawa_unable_to_bear_weight",
            screen(AnkleFoot, 2, &[q::UNABLE_TO_BEAR_WEIGHT]),
            SeeDoctorToday,
        ),
        (
            "ottawa_ankle_bone_tenderness",
            screen(AnkleFoot, 2, &[q::ANKLE_BONE_TENDERNESS]),
            SeeDoctorToday,
        ),
        (
            "ottawa_knee_findings",
            screen(Knee, 2, &[q::KNEE_FRACTURE_SIGNS]),
            SeeDoctorToday,
        ),
        (
            "suspected_fracture",
            screen(WristHand, 2, &[q::SUSPECTED_FRACTURE]),
            SeeDoctorToday,
        ),
        (
            "spinal_pain_with_fever",
            screen(LowerBack, 2, &[q::FEVER_OR_UNWELL]),
            SeeDoctorToday,
        ),
        (
            "spinal_pain_with_cancer_history",
            screen(UpperBack, 2, &[q::CANCER_HISTORY]),
            SeeDoctorToday,
        ),
        (
            "progressive_neurological_deficit",
            screen(Neck, 2, &[q::NERVE_SYMPTOMS, q::NERVE_SYMPTOMS_WORSENING]),
            SeeDoctorToday,
        ),
        ("severe_pain", screen(Shoulder, 7, &[]), Urgent),
        (
            "acute_injury_with_moderate_pain",
            with(
                screen(Hip, 5, &[]),
                q::ONSET,
                Value::Code(onset::SUDDEN_DURING_MOVEMENT),
            ),
            Urgent,
        ),
        (
            "daily_function_limited",
            with(
                screen(Hip, 2, &[]),
                q::FUNCTION,
                Value::Code(function::DAILY_LIFE_LIMITED),
            ),
            Urgent,
        ),
        (
            "stable_nerve_symptoms",
            screen(Neck, 2, &[q::NERVE_SYMPTOMS]),
            Urgent,
        ),
        (
            "unrelenting_night_pain",
            screen(Shoulder, 2, &[q::UNRELENTING_NIGHT_PAIN]),
            Urgent,
        ),
    ];
    assert_eq!(cases.len(), RULES.len(), "a case per rule");
    for (id, s, level) in cases {
        let t = triage(s);
        assert_eq!(t.level, *level, "{id}");
        assert_eq!(
            t.rules.first(),
            Some(id),
            "{id} is the most serious rule met"
        );
        let rule = RULES.iter().find(|r| r.id == *id).expect("a rule");
        assert_eq!(rule.level, *level, "{id}");
    }
}

#[test]
fn near_misses_stay_where_they_are() {
    use BodyRegion::*;
    let cases: &[(&str, Screen, Level)] = &[
        (
            "no answers, mild pain",
            screen(Shoulder, 6, &[]),
            Level::Routine,
        ),
        (
            "moderate pain from a gradual onset",
            with(screen(Knee, 6, &[]), q::ONSET, Value::Code(onset::GRADUAL)),
            Level::Routine,
        ),
        (
            "sudden onset, mild pain",
            with(
                screen(Knee, 4, &[]),
                q::ONSET,
                Value::Code(onset::IMPACT_OR_FALL),
            ),
            Level::Routine,
        ),
        (
            "training limited only",
            with(
                screen(Knee, 2, &[]),
                q::FUNCTION,
                Value::Code(function::TRAINING_LIMITED),
            ),
            Level::Routine,
        ),
        (
            "numbness alone is not an emergency",
            screen(Neck, 2, &[q::NERVE_SYMPTOMS]),
            Level::Urgent,
        ),
        (
            "head impact, no symptoms",
            with(
                screen(Neck, 2, &[q::HEAD_IMPACT]),
                q::CONCUSSION_SYMPTOMS,
                Value::Bool(false),
            ),
            Level::Routine,
        ),
        (
            "head impact, symptoms not asked",
            screen(Neck, 2, &[q::HEAD_IMPACT]),
            Level::SeeDoctorToday,
        ),
        (
            "worse than doctor: both",
            screen(
                LowerBack,
                2,
                &[q::FEVER_OR_UNWELL, q::SADDLE_NUMBNESS_OR_BLADDER_BOWEL],
            ),
            Level::EmergencyNow,
        ),
    ];
    for (what, s, level) in cases {
        assert_eq!(triage(s).level, *level, "{what}");
    }
}

#[test]
fn each_disposition_has_its_status_priority_and_sentence() {
    use BodyRegion::Shoulder;
    let cases = [
        (
            screen(Shoulder, 2, &[q::OBVIOUS_DEFORMITY]),
            Disposition::EmergencyNow,
            Status::EmergencyAdvised,
            Priority::Emergency,
            "Call emergency services now",
        ),
        (
            screen(Shoulder, 2, &[q::SUSPECTED_FRACTURE]),
            Disposition::SeeDoctorToday,
            Status::DoctorAdvised,
            Priority::Emergency,
            "see a doctor today",
        ),
        (
            screen(Shoulder, 8, &[]),
            Disposition::Physio,
            Status::AwaitingBooking,
            Priority::Urgent,
            "within 48 hours",
        ),
        (
            screen(Shoulder, 2, &[]),
            Disposition::Physio,
            Status::AwaitingBooking,
            Priority::Routine,
            "within 7 days",
        ),
    ];
    for (s, disposition, status, priority, sentence) in cases {
        let t = triage(&s);
        assert_eq!(t.disposition(), disposition);
        assert_eq!(t.status(), status);
        assert_eq!(t.priority(), priority);
        assert!(
            advice(disposition, priority).contains(sentence),
            "{disposition:?}"
        );
    }
}

#[test]
fn a_possible_concussion_carries_the_return_to_training_protocol() {
    let t = triage(&screen(
        BodyRegion::Neck,
        2,
        &[q::HEAD_IMPACT, q::CONCUSSION_SYMPTOMS],
    ));
    assert!(t.rules.contains(&rules::POSSIBLE_CONCUSSION));
    let fracture = triage(&screen(BodyRegion::Neck, 2, &[q::SUSPECTED_FRACTURE]));
    assert!(!fracture.rules.contains(&rules::POSSIBLE_CONCUSSION));
    // The stages run 1 to 6, in order.
    let stages: Vec<u8> = return_to_sport::protocol()
        .stages
        .iter()
        .map(|s| s.stage)
        .collect();
    assert_eq!(stages, [1, 2, 3, 4, 5, 6]);
}

#[test]
fn every_legacy_flag_maps_to_a_question_of_the_current_version() {
    for flag in RedFlag::ALL {
        let id = legacy::question_for(*flag);
        assert!(
            matches!(
                questionnaire::current().item(id).map(|i| &i.answer),
                Some(AnswerType::Boolean)
            ),
            "{flag:?}"
        );
    }
}

#[test]
fn legacy_flags_keep_their_old_weight_where_the_rules_agree() {
    use RedFlag::*;
    let cases = [
        (ChestPainOrBreathlessness, Disposition::EmergencyNow),
        (BladderOrBowelChange, Disposition::EmergencyNow),
        (HeadInjury, Disposition::SeeDoctorToday),
        (SuspectedFractureOrDislocation, Disposition::SeeDoctorToday),
        (UnableToBearWeight, Disposition::SeeDoctorToday),
        (FeverOrUnexplainedWeightLoss, Disposition::SeeDoctorToday),
        // What the questionnaire changes: alone, these book a physio sooner.
        (NumbnessOrTingling, Disposition::Physio),
        (SevereNightPain, Disposition::Physio),
    ];
    for (flag, disposition) in cases {
        let s = legacy::from_red_flags(3, &[flag]);
        assert_eq!(triage(&s).disposition(), disposition, "{flag:?}");
    }
    let none = legacy::from_red_flags(7, &[]);
    assert_eq!(triage(&none).priority(), Priority::Urgent);
}

/// Any answer set over version 1's questions, answered or not, whatever
/// the conditions (the rules must be safe on every input, not only on the
/// ones the checks let through).
fn any_screen() -> impl Strategy<Value = Screen> {
    let answers: Vec<_> = V1
        .items
        .iter()
        .map(|item| {
            let values: Vec<Value> = match &item.answer {
                AnswerType::Boolean => vec![Value::Bool(false), Value::Bool(true)],
                AnswerType::Choice(choices) => {
                    choices.iter().map(|c| Value::Code(c.code)).collect()
                }
            };
            proptest::option::of(proptest::sample::select(values))
                .prop_map(move |v| (item.link_id, v))
        })
        .collect();
    (0i64..=10, answers).prop_map(|(pain, answers)| {
        let mut s = Screen::new(pain);
        for (id, value) in answers {
            if let Some(value) = value {
                s.answers.insert(id, value);
            }
        }
        s
    })
}

/// Every answer one step more positive than `s`'s for `id`: unanswered or
/// no → yes; a choice → any later choice (choices are listed from least to
/// most concerning).
fn more_positive(s: &Screen, id: &'static str) -> Vec<Value> {
    let item = V1.item(id).expect("a question");
    match (&item.answer, s.answer(id)) {
        (AnswerType::Boolean, Some(Value::Bool(true))) => vec![],
        (AnswerType::Boolean, _) => vec![Value::Bool(true)],
        (AnswerType::Choice(choices), current) => {
            let from = match current {
                Some(Value::Code(code)) => choices
                    .iter()
                    .position(|c| c.code == code)
                    .map_or(0, |i| i + 1),
                _ => 0,
            };
            choices[from..]
                .iter()
                .map(|c| Value::Code(c.code))
                .collect()
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn meeting_an_emergency_or_doctor_rule_never_books(s in any_screen()) {
        let medical = RULES
            .iter()
            .any(|r| r.level >= Level::SeeDoctorToday && (r.applies)(&s));
        let t = triage(&s);
        prop_assert_eq!(medical, !t.books());
        if medical {
            prop_assert_eq!(t.priority(), Priority::Emergency);
            prop_assert_ne!(t.status(), Status::AwaitingBooking);
        }
    }

    #[test]
    fn a_more_positive_answer_never_lowers_the_level(s in any_screen(), which in 0..V1.items.len()) {
        let id = V1.items[which].link_id;
        let before = triage(&s).level;
        for value in more_positive(&s, id) {
            let after = triage(&with(s.clone(), id, value)).level;
            prop_assert!(after >= before, "{} = {:?}: {:?} -> {:?}", id, value, before, after);
        }
    }

    #[test]
    fn more_pain_never_lowers_the_level(s in any_screen()) {
        let before = triage(&s).level;
        for pain in s.pain_level..=10 {
            let mut more = s.clone();
            more.pain_level = pain;
            prop_assert!(triage(&more).level >= before);
        }
    }

    #[test]
    fn the_stored_answers_triage_the_same_when_read_back(s in any_screen()) {
        let stored = s.to_fhir(&V1, "2026-12-02T00:00:00Z");
        let mut back = s.clone();
        back.answers = answers_from_fhir(&V1, &stored).expect("reads back");
        prop_assert_eq!(triage(&back), triage(&s));
    }
}
