//! Outcome measures as stored and shown (docs/training.md, "Outcome
//! measures"): the baseline is the injury report's (its pain level is the
//! NPRS, its `psfs` the activities); the physio scores them again at each
//! assessment or follow-up, each compared with the baseline.

use crate::domain::training::outcomes::{Comparison, PSFS_ACTIVITIES, Scores, compare, same_name};
use crate::schema::{injury_reports, outcome_measures};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_platform::validate::finish;
use spotter_platform::{ApiError, ApiResult, FieldError, Text, Within, coded};
use utoipa::ToSchema;
use uuid::Uuid;

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
            .any(|earlier| same_name(earlier.activity.as_str(), item.activity.as_str()))
        {
            errors.push(FieldError::new(
                format!("{field}[{i}].activity"),
                "is named twice",
            ));
        }
    }
}

coded! {
    /// When the physio scored the measures (the baseline is the flag's).
    pub enum Occasion {
        Assessment = "assessment",
        FollowUp = "follow_up",
    }
}

/// The physio's scoring at an assessment or follow-up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeasures {
    pub occasion: Occasion,
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

/// The scoring at the flag: the injury report's pain level is its NPRS.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Baseline {
    pub recorded_at: DateTime<Utc>,
    pub nprs: i16,
    pub psfs: Vec<PsfsItem>,
    pub psfs_average: Option<f64>,
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
    /// Against the baseline; a change of at least the minimal clinically
    /// important difference is `improved` or `worsened`.
    pub compared_with_baseline: Comparison,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Outcomes {
    pub baseline: Baseline,
    /// The physio's, oldest first.
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
    input: &NewMeasures,
) -> ApiResult<Uuid> {
    diesel::insert_into(outcome_measures::table)
        .values((
            outcome_measures::id.eq(Uuid::now_v7()),
            outcome_measures::referral_id.eq(referral_id),
            outcome_measures::occasion.eq(input.occasion.as_str()),
            outcome_measures::recorded_by.eq(recorded_by),
            outcome_measures::nprs.eq(input.nprs.get_i16()),
            outcome_measures::psfs.eq(to_json(&input.psfs)?),
        ))
        .returning(outcome_measures::id)
        .get_result(conn)
        .await
        .map_err(spotter_db::db_error)
}

pub fn to_json(psfs: &[PsfsItem]) -> ApiResult<serde_json::Value> {
    serde_json::to_value(psfs).map_err(|e| ApiError::Internal(e.into()))
}

fn from_json(psfs: serde_json::Value) -> ApiResult<Vec<PsfsItem>> {
    serde_json::from_value(psfs).map_err(|e| ApiError::Internal(e.into()))
}

/// The baseline and every measurement of the referral, each compared with
/// it: two reads through the referral's own rows.
pub async fn outcomes(conn: &mut AsyncPgConnection, referral_id: Uuid) -> ApiResult<Outcomes> {
    let (nprs, psfs, recorded_at): (i16, serde_json::Value, DateTime<Utc>) = injury_reports::table
        .find(referral_id)
        .select((
            injury_reports::pain_level,
            injury_reports::psfs,
            injury_reports::consent_recorded_at,
        ))
        .first(conn)
        .await
        .map_err(spotter_db::db_error)?;
    let baseline_psfs = from_json(psfs)?;
    let baseline = Baseline {
        recorded_at,
        nprs,
        psfs_average: average(&baseline_psfs),
        psfs: baseline_psfs,
    };
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
        let psfs = from_json(row.psfs)?;
        scored.push((row.id, row.occasion, row.recorded_at, row.nprs, psfs));
    }
    Ok(trend(baseline, scored))
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

fn average(psfs: &[PsfsItem]) -> Option<f64> {
    (!psfs.is_empty()).then(|| {
        let sum: i64 = psfs.iter().map(|p| p.score.get()).sum();
        (sum as f64 / psfs.len() as f64 * 100.0).round() / 100.0
    })
}

/// NPRS is compared with the flag's; PSFS with the first scoring that named
/// activities (the flag's, or else the first assessment's: a trainer may
/// flag without them).
fn trend(baseline: Baseline, scored: Vec<Scored>) -> Outcomes {
    let reference_psfs = if baseline.psfs.is_empty() {
        scored
            .iter()
            .map(|s| &s.4)
            .find(|psfs| !psfs.is_empty())
            .cloned()
            .unwrap_or_default()
    } else {
        baseline.psfs.clone()
    };
    let reference = scores(baseline.nprs, &reference_psfs);
    let measurements: Vec<Measurement> = scored
        .into_iter()
        .map(|(id, occasion, recorded_at, nprs, psfs)| Measurement {
            id,
            occasion,
            recorded_at,
            nprs,
            compared_with_baseline: compare(&reference, &scores(nprs, &psfs)),
            psfs_average: average(&psfs),
            psfs,
        })
        .collect();
    Outcomes {
        latest: measurements.last().map(|m| m.compared_with_baseline),
        baseline,
        measurements,
    }
}
