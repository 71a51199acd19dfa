//! Guidance as stored (a row whose lists are JSON) and as the app sees it.

use crate::domain::training::MovementPattern;
use crate::domain::vocabulary::Clearance;
use crate::schema::guidance;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_db::db_error;
use spotter_platform::{ApiError, ApiResult, Kilograms, Text, Within};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Avoid {
    /// In words; may be left out when `pattern` says it.
    #[serde(default)]
    pub movement: Option<Text<100>>,
    /// The movement pattern to keep off, which the conflict check and
    /// flare rules can hold a session to.
    #[serde(default)]
    pub pattern: Option<MovementPattern>,
    /// With `pattern`: allowed up to this load, avoided above it.
    #[serde(default)]
    pub max_load_kg: Option<Kilograms>,
    pub reason: Text<300>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    pub name: Text<100>,
    /// The movement pattern it trains.
    #[serde(default)]
    pub pattern: Option<MovementPattern>,
    pub sets: Within<1, 20>,
    pub reps: Within<1, 100>,
    #[serde(default = "Within::lowest")]
    pub hold_seconds: Within<0, 600>,
    /// Sessions per week.
    pub per_week: Within<1, 14>,
    #[serde(default)]
    pub notes: Option<Text<300, 0>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadLimits {
    /// Highest rate of perceived exertion allowed.
    pub max_rpe: Within<1, 10>,
    /// Stop when pain reaches this.
    pub pain_ceiling: Within<0, 10>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GuidanceView {
    pub id: Uuid,
    pub version: i32,
    pub physio_id: Uuid,
    pub clearance: Clearance,
    pub avoid: Vec<Avoid>,
    pub exercises: Vec<Exercise>,
    pub load_limits: LoadLimits,
    /// When the physio sees the client again (a follow-up is booked from
    /// it); none when no review is planned.
    pub review_on: Option<NaiveDate>,
    pub notes_for_trainer: String,
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = guidance)]
pub(super) struct GuidanceRow {
    pub(super) id: Uuid,
    pub(super) version: i32,
    pub(super) physio_id: Uuid,
    #[diesel(deserialize_as = String)]
    pub(super) clearance: Clearance,
    pub(super) avoid: serde_json::Value,
    pub(super) exercises: serde_json::Value,
    pub(super) load_limits: serde_json::Value,
    pub(super) review_on: Option<NaiveDate>,
    pub(super) notes_for_trainer: String,
    pub(super) created_at: DateTime<Utc>,
    pub(super) acknowledged_at: Option<DateTime<Utc>>,
}

impl GuidanceRow {
    pub(super) fn view(self) -> ApiResult<GuidanceView> {
        let parse = |e: serde_json::Error| ApiError::Internal(e.into());
        Ok(GuidanceView {
            id: self.id,
            version: self.version,
            physio_id: self.physio_id,
            clearance: self.clearance,
            avoid: serde_json::from_value(self.avoid).map_err(parse)?,
            exercises: serde_json::from_value(self.exercises).map_err(parse)?,
            load_limits: serde_json::from_value(self.load_limits).map_err(parse)?,
            review_on: self.review_on,
            notes_for_trainer: self.notes_for_trainer,
            created_at: self.created_at,
            acknowledged_at: self.acknowledged_at,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GuidanceHistory {
    /// The latest version, or null before any was shared.
    pub current: Option<GuidanceView>,
    /// Every version, newest first.
    pub versions: Vec<GuidanceView>,
}

/// The latest version, if any (caller audits the read).
pub async fn current(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
) -> ApiResult<Option<GuidanceView>> {
    let row = guidance::table
        .filter(guidance::referral_id.eq(referral_id))
        .order(guidance::version.desc())
        .select(GuidanceRow::as_select())
        .first(conn)
        .await
        .optional()
        .map_err(db_error)?;
    row.map(GuidanceRow::view).transpose()
}

/// Every version with its content, newest first (caller audits the read).
pub async fn all(conn: &mut AsyncPgConnection, referral_id: Uuid) -> ApiResult<Vec<GuidanceView>> {
    guidance::table
        .filter(guidance::referral_id.eq(referral_id))
        .order(guidance::version.desc())
        .select(GuidanceRow::as_select())
        .load(conn)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(GuidanceRow::view)
        .collect()
}

/// One version of the referral's guidance (caller audits the read).
pub async fn version(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    version: i32,
) -> ApiResult<GuidanceView> {
    guidance::table
        .filter(guidance::referral_id.eq(referral_id))
        .filter(guidance::version.eq(version))
        .select(GuidanceRow::as_select())
        .first(conn)
        .await
        .map_err(db_error)?
        .view()
}

/// One guidance version as the course view lists it: when it was shared and
/// acknowledged, and its review date; its content is the trainer's and the
/// physio's only (`GET …/guidance`).
#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = guidance)]
pub struct GuidanceVersion {
    pub version: i32,
    pub review_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// Every version of the referral's guidance, oldest first.
pub async fn versions(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
) -> QueryResult<Vec<GuidanceVersion>> {
    guidance::table
        .filter(guidance::referral_id.eq(referral_id))
        .order(guidance::version.asc())
        .select(GuidanceVersion::as_select())
        .load(conn)
        .await
}

pub(super) fn to_json<T: Serialize>(value: &T) -> ApiResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.into()))
}
