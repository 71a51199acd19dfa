//! The conflict check: a planned session against the guidance in force
//! (docs/training.md, "Conflict check"). Pure: the caller loads the
//! guidance; nothing here waits on anything.

use super::patterns::MovementPattern;
use crate::domain::vocabulary::Clearance;
use serde::Serialize;
use spotter_platform::{Kilograms, coded};
use utoipa::ToSchema;

/// What the guidance says that a session can break.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub clearance: Clearance,
    /// Patterns named in the avoid list (free-text entries cannot be
    /// checked and are not here).
    pub avoid: Vec<AvoidedPattern>,
    pub max_rpe: i64,
}

/// A pattern to keep off, entirely or above a load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AvoidedPattern {
    pub pattern: MovementPattern,
    /// With a cap the pattern is allowed up to it; without, not at all.
    pub max_load: Option<Kilograms>,
}

/// One exercise of a planned session, as the check sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planned {
    pub pattern: MovementPattern,
    pub load: Option<Kilograms>,
    pub rpe: Option<i64>,
}

coded! {
    /// Which rule of the guidance a planned exercise breaks.
    pub enum Rule {
        /// The client is not cleared to train at all.
        NoTraining = "no_training",
        /// The pattern is on the avoid list without a load cap.
        AvoidedPattern = "avoided_pattern",
        /// The pattern is allowed only up to a load, and this is more.
        LoadAboveCap = "load_above_cap",
        /// Harder than the guidance's `max_rpe`.
        RpeAboveMax = "rpe_above_max",
    }
}

/// One rule broken, by one exercise (or, for `no_training`, by the session).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Conflict {
    pub rule: Rule,
    /// Index of the exercise in the planned session; null for the session.
    pub exercise: Option<usize>,
    pub pattern: Option<MovementPattern>,
    /// The guidance's limit the plan goes over (kilograms or RPE).
    pub limit: Option<f64>,
    /// What was planned against that limit.
    pub planned: Option<f64>,
}

/// Every conflict, in the order of the planned exercises. `no_training`
/// is the only one reported when it applies: nothing else matters then.
pub fn conflicts(limits: &Limits, session: &[Planned]) -> Vec<Conflict> {
    if limits.clearance == Clearance::NoTraining && !session.is_empty() {
        return vec![Conflict {
            rule: Rule::NoTraining,
            exercise: None,
            pattern: None,
            limit: None,
            planned: None,
        }];
    }
    let mut found = Vec::new();
    for (index, planned) in session.iter().enumerate() {
        for avoided in limits.avoid.iter().filter(|a| a.pattern == planned.pattern) {
            match avoided.max_load {
                None => found.push(Conflict {
                    rule: Rule::AvoidedPattern,
                    exercise: Some(index),
                    pattern: Some(planned.pattern),
                    limit: None,
                    planned: None,
                }),
                Some(cap) if planned.load.unwrap_or(Kilograms::ZERO) > cap => {
                    found.push(Conflict {
                        rule: Rule::LoadAboveCap,
                        exercise: Some(index),
                        pattern: Some(planned.pattern),
                        limit: Some(cap.get()),
                        planned: planned.load.map(Kilograms::get),
                    });
                }
                Some(_) => {}
            }
        }
        if let Some(rpe) = planned.rpe.filter(|&rpe| rpe > limits.max_rpe) {
            found.push(Conflict {
                rule: Rule::RpeAboveMax,
                exercise: Some(index),
                pattern: Some(planned.pattern),
                limit: Some(limits.max_rpe as f64),
                planned: Some(rpe as f64),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use MovementPattern::*;

    fn kg(value: f64) -> Option<Kilograms> {
        Some(Kilograms::new(value).unwrap())
    }

    fn limits(clearance: Clearance, avoid: &[(MovementPattern, Option<f64>)]) -> Limits {
        Limits {
            clearance,
            avoid: avoid
                .iter()
                .map(|&(pattern, cap)| AvoidedPattern {
                    pattern,
                    max_load: cap.and_then(kg),
                })
                .collect(),
            max_rpe: 6,
        }
    }

    fn plan(pattern: MovementPattern, load: Option<f64>, rpe: Option<i64>) -> Planned {
        Planned {
            pattern,
            load: load.and_then(kg),
            rpe,
        }
    }

    fn rules(found: &[Conflict]) -> Vec<(Rule, Option<usize>)> {
        found.iter().map(|c| (c.rule, c.exercise)).collect()
    }

    /// A name, the guidance, the plan, and the rules broken (by exercise).
    type Case = (
        &'static str,
        Limits,
        Vec<Planned>,
        Vec<(Rule, Option<usize>)>,
    );

    #[test]
    fn each_rule_is_reported_against_the_exercise_that_breaks_it() {
        use Clearance::ModifiedTraining as Modified;
        let cases: &[Case] = &[
            (
                "nothing avoided, within RPE",
                limits(Modified, &[]),
                vec![plan(Squat, Some(60.0), Some(6))],
                vec![],
            ),
            (
                "an avoided pattern at any load",
                limits(Modified, &[(JumpLanding, None)]),
                vec![plan(Squat, None, None), plan(JumpLanding, None, None)],
                vec![(Rule::AvoidedPattern, Some(1))],
            ),
            (
                "a capped pattern at the cap is allowed",
                limits(Modified, &[(Hinge, Some(40.0))]),
                vec![plan(Hinge, Some(40.0), None)],
                vec![],
            ),
            (
                "a capped pattern above the cap",
                limits(Modified, &[(Hinge, Some(40.0))]),
                vec![plan(Hinge, Some(40.5), None)],
                vec![(Rule::LoadAboveCap, Some(0))],
            ),
            (
                "a capped pattern with no load given is body weight",
                limits(Modified, &[(Hinge, Some(0.0))]),
                vec![plan(Hinge, None, None)],
                vec![],
            ),
            (
                "RPE above the maximum, RPE at it",
                limits(Modified, &[]),
                vec![plan(Pull, None, Some(7)), plan(Pull, None, Some(6))],
                vec![(Rule::RpeAboveMax, Some(0))],
            ),
            (
                "one exercise breaking two rules reports both",
                limits(Modified, &[(Lunge, Some(10.0))]),
                vec![plan(Lunge, Some(20.0), Some(9))],
                vec![(Rule::LoadAboveCap, Some(0)), (Rule::RpeAboveMax, Some(0))],
            ),
            (
                "no training: the session itself, once",
                limits(Clearance::NoTraining, &[(Run, None)]),
                vec![plan(Run, None, Some(9)), plan(Carry, None, None)],
                vec![(Rule::NoTraining, None)],
            ),
            (
                "no training and nothing planned: nothing to say",
                limits(Clearance::NoTraining, &[]),
                vec![],
                vec![],
            ),
            (
                "full training still honours named patterns",
                limits(Clearance::FullTraining, &[(Impact, None)]),
                vec![plan(Impact, None, None)],
                vec![(Rule::AvoidedPattern, Some(0))],
            ),
        ];
        for (name, limits, session, expected) in cases {
            assert_eq!(&rules(&conflicts(limits, session)), expected, "{name}");
        }
    }

    #[test]
    fn a_conflict_names_the_limit_and_what_was_planned() {
        let found = conflicts(
            &limits(Clearance::ModifiedTraining, &[(Squat, Some(50.0))]),
            &[plan(Squat, Some(70.0), Some(8))],
        );
        assert_eq!(found[0].limit, Some(50.0));
        assert_eq!(found[0].planned, Some(70.0));
        assert_eq!(found[1].limit, Some(6.0));
        assert_eq!(found[1].planned, Some(8.0));
    }
}
