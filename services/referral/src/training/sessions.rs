//! The session log as stored and shown (docs/training.md, "Session log").

use crate::domain::training::MovementPattern;
use crate::domain::training::flare::{FlareSign, Reported};
use crate::schema::training_sessions;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_platform::validate::finish;
use spotter_platform::{ApiError, ApiResult, FieldError, Kilograms, Text, Within};
use utoipa::ToSchema;
use uuid::Uuid;

/// How far back a session may be logged.
pub const OLDEST_LOGGABLE: Duration = Duration::days(30);
/// A phone's clock may run a little ahead.
const CLOCK_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DoneExercise {
    /// As the guidance names it, for a prescribed exercise (adherence
    /// counts it by this name, ignoring case).
    pub name: Text<100>,
    #[serde(default)]
    pub pattern: Option<MovementPattern>,
    pub sets: Within<1, 20>,
    pub reps: Within<1, 100>,
    /// Left out for body weight.
    #[serde(default)]
    pub load_kg: Option<Kilograms>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    /// When the session started (RFC 3339); within the last 30 days.
    pub performed_at: DateTime<Utc>,
    #[schema(min_items = 1, max_items = 30)]
    pub exercises: Vec<DoneExercise>,
    /// Rate of perceived exertion for the whole session.
    pub session_rpe: Within<1, 10>,
    /// Worst pain during the session (NPRS).
    pub pain_during: Within<0, 10>,
    /// Pain 24 hours later, when already known; else added later.
    #[serde(default)]
    pub pain_after_24h: Option<Within<0, 10>>,
}

impl NewSession {
    pub fn validate(&self, now: DateTime<Utc>) -> ApiResult<()> {
        let mut errors = Vec::new();
        super::check_api::check_count(self.exercises.len(), &mut errors);
        if self.performed_at > now + CLOCK_SKEW {
            errors.push(FieldError::new("performed_at", "must not be in the future"));
        } else if self.performed_at < now - OLDEST_LOGGABLE {
            errors.push(FieldError::new(
                "performed_at",
                "must be within the last 30 days",
            ));
        }
        finish(errors)
    }

    pub fn reported(&self) -> Reported {
        Reported {
            session_rpe: self.session_rpe.get(),
            pain_during: self.pain_during.get(),
            pain_after: self.pain_after_24h.map(Within::get),
        }
    }
}

/// The pain 24 hours after a logged session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PainAfter {
    pub pain_after_24h: Within<0, 10>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SessionView {
    pub id: Uuid,
    pub performed_at: DateTime<Utc>,
    pub exercises: Vec<DoneExercise>,
    pub session_rpe: i16,
    pub pain_during: i16,
    pub pain_after_24h: Option<i16>,
    /// The guidance version in force when it was logged.
    pub guidance_version: i32,
    /// Why it was a flare; empty when it stayed within limits.
    pub flare_signs: Vec<FlareSign>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = training_sessions)]
pub struct SessionRow {
    pub id: Uuid,
    pub referral_id: Uuid,
    pub performed_at: DateTime<Utc>,
    pub exercises: serde_json::Value,
    pub session_rpe: i16,
    pub pain_during: i16,
    pub pain_after: Option<i16>,
    pub guidance_version: i32,
    pub flare_signs: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SessionRow {
    pub fn reported(&self) -> Reported {
        Reported {
            session_rpe: i64::from(self.session_rpe),
            pain_during: i64::from(self.pain_during),
            pain_after: self.pain_after.map(i64::from),
        }
    }

    pub fn view(self) -> ApiResult<SessionView> {
        let corrupt = |e: String| ApiError::Internal(anyhow::anyhow!(e));
        Ok(SessionView {
            id: self.id,
            performed_at: self.performed_at,
            exercises: serde_json::from_value(self.exercises)
                .map_err(|e| corrupt(e.to_string()))?,
            session_rpe: self.session_rpe,
            pain_during: self.pain_during,
            pain_after_24h: self.pain_after,
            guidance_version: self.guidance_version,
            flare_signs: self
                .flare_signs
                .iter()
                .map(|s| {
                    s.parse()
                        .map_err(|e: spotter_platform::coded::UnknownCode| corrupt(e.to_string()))
                })
                .collect::<ApiResult<_>>()?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

pub fn codes(signs: &[FlareSign]) -> Vec<&'static str> {
    signs.iter().map(|s| s.as_str()).collect()
}

pub async fn insert(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    input: &NewSession,
    guidance_version: i32,
    signs: &[FlareSign],
) -> ApiResult<SessionRow> {
    let exercises =
        serde_json::to_value(&input.exercises).map_err(|e| ApiError::Internal(e.into()))?;
    diesel::insert_into(training_sessions::table)
        .values((
            training_sessions::id.eq(Uuid::now_v7()),
            training_sessions::referral_id.eq(referral_id),
            training_sessions::performed_at.eq(input.performed_at),
            training_sessions::exercises.eq(exercises),
            training_sessions::session_rpe.eq(input.session_rpe.get_i16()),
            training_sessions::pain_during.eq(input.pain_during.get_i16()),
            training_sessions::pain_after.eq(input.pain_after_24h.map(Within::get_i16)),
            training_sessions::guidance_version.eq(guidance_version),
            training_sessions::flare_signs.eq(codes(signs)),
        ))
        .returning(SessionRow::as_returning())
        .get_result(conn)
        .await
        .map_err(spotter_db::db_error)
}

/// The session, when it is this referral's.
pub async fn find(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    session_id: Uuid,
) -> QueryResult<Option<SessionRow>> {
    training_sessions::table
        .find(session_id)
        .filter(training_sessions::referral_id.eq(referral_id))
        .select(SessionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// The latest session before `before` that stayed within limits: where the
/// trainer drops back to after a flare.
pub async fn last_within_limits(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    before: DateTime<Utc>,
) -> QueryResult<Option<SessionRow>> {
    training_sessions::table
        .filter(training_sessions::referral_id.eq(referral_id))
        .filter(training_sessions::performed_at.lt(before))
        .filter(training_sessions::flare_signs.eq(Vec::<String>::new()))
        .order(training_sessions::performed_at.desc())
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()
}

/// Flares among the sessions performed in `window` up to `until`.
pub async fn flares_within(
    conn: &mut AsyncPgConnection,
    referral_id: Uuid,
    until: DateTime<Utc>,
    window: Duration,
) -> QueryResult<i64> {
    training_sessions::table
        .filter(training_sessions::referral_id.eq(referral_id))
        .filter(training_sessions::performed_at.gt(until - window))
        .filter(training_sessions::performed_at.le(until))
        .filter(training_sessions::flare_signs.ne(Vec::<String>::new()))
        .count()
        .get_result(conn)
        .await
}
