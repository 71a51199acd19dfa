//! What a physio may post: the types hold each field's limits; this adds the
//! rules across fields.

use super::model::{Avoid, Exercise, LoadLimits};
use crate::domain::vocabulary::Clearance;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use spotter_platform::validate::finish;
use spotter_platform::{ApiResult, FieldError, Text};
use utoipa::ToSchema;

/// The most avoid entries, and the most exercises, one version may list.
const MAX_ITEMS: usize = 30;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGuidance {
    pub clearance: Clearance,
    #[serde(default)]
    #[schema(max_items = 30)]
    pub avoid: Vec<Avoid>,
    #[serde(default)]
    #[schema(max_items = 30)]
    pub exercises: Vec<Exercise>,
    pub load_limits: LoadLimits,
    /// When the physio wants to see the client again, in the future and
    /// within a year: a follow-up is booked with them from that day. Leave
    /// it out for no review; with `full_training` that discharges the client.
    #[serde(default)]
    pub review_on: Option<NaiveDate>,
    #[serde(default = "no_notes")]
    pub notes_for_trainer: Text<2000, 0>,
}

fn no_notes() -> Text<2000, 0> {
    Text::default()
}

impl NewGuidance {
    /// Cleared for full training with nothing left to review: the referral
    /// closes as discharged (docs/architecture.md, "Discharge").
    pub fn discharges(&self) -> bool {
        self.clearance == Clearance::FullTraining && self.review_on.is_none()
    }

    /// What the types cannot say: list lengths and the review date.
    pub fn validate(&self, today: NaiveDate) -> ApiResult<()> {
        let mut errors = Vec::new();
        if self.avoid.len() > MAX_ITEMS {
            errors.push(FieldError::new("avoid", format!("at most {MAX_ITEMS}")));
        }
        if self.exercises.len() > MAX_ITEMS {
            errors.push(FieldError::new("exercises", format!("at most {MAX_ITEMS}")));
        }
        for (i, avoid) in self.avoid.iter().enumerate() {
            if avoid.movement.is_none() && avoid.pattern.is_none() {
                let field = format!("avoid[{i}].movement");
                errors.push(FieldError::new(
                    field,
                    "is required when no pattern is given",
                ));
            }
            if avoid.max_load_kg.is_some() && avoid.pattern.is_none() {
                let field = format!("avoid[{i}].max_load_kg");
                errors.push(FieldError::new(
                    field,
                    "caps a pattern: give the pattern too",
                ));
            }
        }
        match self.review_on {
            Some(day) if day <= today => {
                errors.push(FieldError::new("review_on", "must be in the future"));
            }
            Some(day) if day > today + Duration::days(366) => {
                errors.push(FieldError::new("review_on", "must be within a year"));
            }
            _ => {}
        }
        finish(errors)
    }
}
