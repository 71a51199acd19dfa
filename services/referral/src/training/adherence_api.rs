//! `GET /v1/referrals/{id}/adherence`: each prescribed exercise's sessions
//! per ISO week in the clinic's time zone, under the current guidance
//! (docs/training.md, "Adherence").

use super::access::{CARE, for_roles, guidance_in_force};
use super::sessions::DoneExercise;
use crate::audit::{self, action};
use crate::domain::training::adherence::{Logged, Prescribed, Week, first_week, start_of, weekly};
use crate::schema::training_sessions;
use actix_web::web;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use spotter_auth::Caller;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiError, ApiResult};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct Adherence {
    /// The guidance version whose exercises are counted.
    pub guidance_version: i32,
    /// The zone weeks are counted in: the clinic's (UTC until one is known).
    pub timezone: String,
    /// Newest first: from the week the guidance was shared, at most the
    /// latest 12.
    pub weeks: Vec<Week>,
}

#[utoipa::path(
    get,
    path = "/v1/referrals/{referral_id}/adherence",
    tag = "training",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    responses(
        (status = 200, description = "Sessions against each prescribed exercise's per_week, per week; a whole week under half is flagged", body = Adherence),
        (status = 409, description = "No guidance shared yet", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn get(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Adherence>> {
    let id = path.into_inner();
    let now = Utc::now();
    let mut conn = checkout(&pool).await?;
    let found = spotter_db::transaction(&mut conn, async |conn| {
        let referral = for_roles(conn, &caller, id, false, &CARE).await?;
        let in_force = guidance_in_force(conn, id).await?;
        let tz: Tz = referral
            .clinic_timezone
            .as_deref()
            .and_then(|name| name.parse().ok())
            .unwrap_or(Tz::UTC);
        let since = in_force.guidance.created_at;
        // Only the weeks shown are read.
        let from = start_of(first_week(since, now, tz), tz);
        let rows: Vec<(DateTime<Utc>, serde_json::Value)> = training_sessions::table
            .filter(training_sessions::referral_id.eq(id))
            .filter(training_sessions::performed_at.ge(from))
            .select((
                training_sessions::performed_at,
                training_sessions::exercises,
            ))
            .load(conn)
            .await
            .map_err(db_error)?;
        audit::record(conn, &caller, action::TRAINING_SESSION_READ, id)
            .await
            .map_err(db_error)?;
        Ok((in_force.guidance, tz, rows))
    })
    .await;
    let (guidance, tz, rows) = audit::refusal_recorded(&mut conn, &caller, id, found).await?;
    let done: Vec<(DateTime<Utc>, Vec<DoneExercise>)> = rows
        .into_iter()
        .map(|(at, exercises)| {
            serde_json::from_value(exercises)
                .map(|e| (at, e))
                .map_err(|e| ApiError::Internal(e.into()))
        })
        .collect::<ApiResult<_>>()?;
    let sessions: Vec<Logged> = done
        .iter()
        .map(|(at, exercises)| Logged {
            performed_at: *at,
            exercises: exercises.iter().map(|e| e.name.as_str()).collect(),
        })
        .collect();
    let prescribed: Vec<Prescribed> = guidance
        .exercises
        .iter()
        .map(|e| Prescribed {
            name: e.name.as_str(),
            per_week: e.per_week.get(),
        })
        .collect();
    Ok(web::Json(Adherence {
        guidance_version: guidance.version,
        timezone: tz.name().to_owned(),
        weeks: weekly(&prescribed, &sessions, tz, guidance.created_at, now),
    }))
}
