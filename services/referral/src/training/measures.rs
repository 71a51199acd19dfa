//! Outcome measures as stored and shown (docs/training.md, "Outcome
//! measures"): NPRS and PSFS at the flag, then at each assessment or
//! follow-up, each later scoring compared with the baseline.

use crate::domain::training::outcomes::{
    Comparison, PSFS_ACTIVITIES, Scores, compare, same_activity,
};
use crate::schema::outcome_measures;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_platform::validate::finish;
use spotter_platform::{ApiError, ApiResult, FieldError, Text, Within, coded};
use utoipa::ToSchema;
use uuid::Uuid;

coded! {
    /// When the measures were taken.
    pub enum Occasion {
        /// At the flag, by the trainer with the client.
        Baseline = "baseline",
        /// At the assessment, by the physio.
        Assessment = "assessment",
        /// At a follow-up, by the physio.
        FollowUp = "follow_up",
    }
}

/// One activity of the Patient-Specific Functional Scale: something the
/// client finds hard, in their words, scored 0 (unable) to 10 (as before).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PsfsItem {
    pub activity: Text<100>,
    pub score: Within<0, 10>,
}

/// Up to three activities, each named once: a 422 naming the field.
pub fn check_psfs(field: &str, items: &[PsfsItem], errors: &mut Vec<FieldError>) {
    if items.len() > PSFS_ACTIVITIES {
        errors.push(FieldError::new(
            field,
            format!("at most {PSFS_ACTIVITIES} activities"),
        ));
    }
    for (i, item) in items.iter().enumerate() {
        if items[..i]
            .iter()
            .any(|earlier| same_activity(earlier.activity.as_str(), item.activity.as_str()))
        {
            errors.push(FieldError::new(
                format!("{field}[{i}].activity"),
                "is named twice",
            ));
        }
    }
}

coded! {
    /// When a physio scores the measures (the baseline is the flag's).
    pub enum VisitOccasion {
        Assessment = "assessment",
        FollowUp = "follow_up",
    }
}

impl From<VisitOccasion> for Occasion {
    fn from(occasion: VisitOccasion) -> Self {
        match occasion {
            VisitOccasion::Assessment => Self::Assessment,
            VisitOccasion::FollowUp => Self::FollowUp,
        }
    }
}

/// The physio's scoring at an assessment or follow-up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeasures {
    pub occasion: VisitOccasion,
    /// Pain now on the numeric rating scale, 0 (none) to 10 (worst).
    pub nprs: Within<0, 10>,
    /// The client's activities, scored; name them as at the baseline to
    /// compare them.
    #[serde(default)]
    #[schema(max_items = 3)]
    pub psfs: Vec<PsfsItem>,
}

impl NewMeasures {
    pub fn validate(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        check_psfs("psfs", &self.psfs, &mut errors);
        finish(errors)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Measurement {
    pub id: Uuid,
    pub occasion: Occasion,
    pub recorded_at: DateTime<Utc>,
    pub nprs: i16,
    pub psfs: Vec<PsfsItem>,
    /// The PSFS average, null without activities.
    pub psfs_average: Option<f64>,
    /// Against the baseline (null for the baseline itself); a change of at
    /// least the minimal clinically important difference is `improved` or
    /// `worsened`.
    pub compared_with_baseline: Option<Comparison>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Outcomes {
    /// Oldest first: the baseline, then each assessment and follow-up.
    pub measurements: Vec<Measurement>,
    /// The latest against the baseline: the trend in one line.
    pub latest: Option<Comparison>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outcome_measures)]
struct MeasureRow {
    id: Uuid,
    #[diesel(deserialize_as = String)]
    occasion: Occasion,
    nprs: i16,
    psfs: serde_json::Value,
    recorded_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    recorded_by: Uuid,
    occasion: Occasion,
    nprs: i64,
    psfs: &[PsfsItem],
) -> ApiResult<Uuid> {
    let psfs = serde_json::to_value(psfs).map_err(|e| ApiError::Internal(e.into()))?;
    diesel::insert_into(outcome_measures::table)
        .values((
            outcome_measures::id.eq(Uuid::now_v7()),
            outcome_measures::referral_id.eq(referral_id),
            outcome_measures::occasion.eq(occasion.as_str()),
            outcome_measures::recorded_by.eq(recorded_by),
            outcome_measures::nprs.eq(super::sessions::small(nprs)),
            outcome_measures::psfs.eq(psfs),
        ))
        .returning(outcome_measures::id)
        .get_result(conn)
        .await
        .map_err(spotter_db::db_error)
}

/// Every measurement of the referral, each compared with the baseline.
pub async fn outcomes(conn: &mut AsyncPgConnection, referral_id: Uuid) -> ApiResult<Outcomes> {
    let rows: Vec<MeasureRow> = outcome_measures::table
        .filter(outcome_measures::referral_id.eq(referral_id))
        .order((
            outcome_measures::recorded_at.asc(),
            outcome_measures::id.asc(),
        ))
        .select(MeasureRow::as_select())
        .load(conn)
        .await
        .map_err(spotter_db::db_error)?;
    let mut scored = Vec::with_capacity(rows.len());
    for row in rows {
        let psfs: Vec<PsfsItem> =
            serde_json::from_value(row.psfs).map_err(|e| ApiError::Internal(e.into()))?;
        scored.push((row.id, row.occasion, row.recorded_at, row.nprs, psfs));
    }
    Ok(trend(scored))
}

type Scored = (Uuid, Occasion, DateTime<Utc>, i16, Vec<PsfsItem>);

fn scores(nprs: i16, psfs: &[PsfsItem]) -> Scores {
    Scores {
        nprs: i64::from(nprs),
        psfs: psfs
            .iter()
            .map(|p| (p.activity.as_str().to_owned(), p.score.get()))
            .collect(),
    }
}

/// NPRS is compared with the flag's (or, for a referral flagged before
/// baselines were taken, the first scoring's); PSFS with the first scoring
/// that named activities (the flag's, or else the first assessment's: a
/// trainer may flag without them).
fn trend(scored: Vec<Scored>) -> Outcomes {
    let first = scored
        .iter()
        .find(|s| s.1 == Occasion::Baseline)
        .or(<[Scored]>::first(&scored));
    let reference_id = first.map(|s| s.0);
    let baseline = first.map(|s| s.3);
    let first_psfs = scored.iter().find(|s| !s.4.is_empty()).map(|s| s.0);
    let reference = baseline.map(|nprs| {
        let psfs = scored
            .iter()
            .find(|s| Some(s.0) == first_psfs)
            .map(|s| s.4.clone())
            .unwrap_or_default();
        scores(nprs, &psfs)
    });
    let measurements: Vec<Measurement> = scored
        .into_iter()
        .map(|(id, occasion, recorded_at, nprs, psfs)| {
            let compared_with_baseline = match &reference {
                Some(reference) if Some(id) != reference_id => {
                    Some(compare(reference, &scores(nprs, &psfs)))
                }
                _ => None,
            };
            let psfs_average = (!psfs.is_empty()).then(|| {
                let sum: i64 = psfs.iter().map(|p| p.score.get()).sum();
                (sum as f64 / psfs.len() as f64 * 100.0).round() / 100.0
            });
            Measurement {
                id,
                occasion,
                recorded_at,
                nprs,
                psfs,
                psfs_average,
                compared_with_baseline,
            }
        })
        .collect();
    Outcomes {
        latest: measurements.last().and_then(|m| m.compared_with_baseline),
        measurements,
    }
}
