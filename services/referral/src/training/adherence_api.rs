//! `GET /v1/referrals/{id}/adherence`: each prescribed exercise's sessions
//! per ISO week in the clinic's time zone, under the current guidance
//! (docs/training.md, "Adherence").

use super::access::{CARE, for_roles, guidance_in_force};
use super::adherence_weeks::{self, clinic_zone};
use crate::audit::{self, action};
use crate::domain::training::adherence::Week;
use actix_web::web;
use chrono::Utc;
use serde::Serialize;
use spotter_auth::Caller;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::ApiResult;
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
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
        let weeks = adherence_weeks::weeks(conn, &referral, &in_force.guidance, now)
            .await
            .map_err(db_error)?;
        audit::record(conn, &caller, action::TRAINING_SESSION_READ, id)
            .await
            .map_err(db_error)?;
        Ok((in_force.guidance, clinic_zone(&referral), weeks))
    })
    .await;
    let (guidance, tz, weeks) = audit::refusal_recorded(&mut conn, &caller, id, found).await?;
    Ok(web::Json(Adherence {
        guidance_version: guidance.version,
        timezone: tz.name().to_owned(),
        weeks,
    }))
}
