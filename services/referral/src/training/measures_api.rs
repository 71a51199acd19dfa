//! `POST/GET /v1/referrals/{id}/measures`: the treating physio scores NPRS
//! and PSFS at an assessment or follow-up; both the trainer and the physio
//! read the trend against the baseline taken at the flag.

use super::access::{CARE, for_roles};
use super::measures::{self, Measurement, NewMeasures, Outcomes};
use crate::audit::{self, action};
use crate::domain::lifecycle::Status;
use crate::events;
use actix_web::{HttpResponse, web};
use spotter_auth::{Caller, Role};
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::extract::{IdempotencyKey, from_value};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiError, ApiResult, Json};
use uuid::Uuid;

/// Measures follow an assessment, until the referral is closed; the last
/// may come with the discharge.
const MEASURABLE: [Status; 4] = [
    Status::Assessed,
    Status::GuidanceShared,
    Status::Acknowledged,
    Status::Discharged,
];

#[utoipa::path(
    post,
    path = "/v1/referrals/{referral_id}/measures",
    tag = "training",
    params(
        ("referral_id" = Uuid, Path, description = "The referral"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]+$", description = "Retries with the same key and body return the first response (and record once)"),
    ),
    request_body = NewMeasures,
    responses(
        (status = 201, description = "Recorded, and compared with the baseline; a meaningful improvement is told to the trainer", body = Measurement),
        (status = 409, description = "The client has not been assessed, or the referral is closed", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn record(
    caller: Caller,
    key: IdempotencyKey,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let raw = body.into_inner();
    let input: NewMeasures = from_value(raw.clone())?;
    input.validate()?;
    let mut conn = checkout(&pool).await?;
    audit::created_once(&mut conn, &caller, id, &key, &raw, async |conn| {
        // The treating physio only: the trainer's scoring is the baseline,
        // taken at the flag.
        let referral = for_roles(conn, &caller, id, true, &[Role::Physio]).await?;
        if !MEASURABLE.contains(&referral.status) {
            return Err(ApiError::Conflict(format!(
                "measures follow an assessment; this referral is {}",
                referral.status
            )));
        }
        let measured = measures::insert(conn, id, caller.user_id, &input).await?;
        audit::record(conn, &caller, action::OUTCOME_WRITE, id)
            .await
            .map_err(db_error)?;
        let outcomes = measures::outcomes(conn, id).await?;
        let Some(recorded) = outcomes.measurements.into_iter().find(|m| m.id == measured) else {
            return Err(ApiError::Internal(anyhow::anyhow!(
                "a measurement just written is missing"
            )));
        };
        let comparison = recorded.compared_with_baseline;
        if comparison.meaningfully_improved() {
            let event = events::outcome_improved(&referral, caller.user_id, &recorded, &comparison);
            spotter_messaging::enqueue(conn, &event)
                .await
                .map_err(db_error)?;
        }
        Ok(recorded)
    })
    .await
}

#[utoipa::path(
    get,
    path = "/v1/referrals/{referral_id}/measures",
    tag = "training",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    responses(
        (status = 200, description = "Every measurement, oldest first, each against the baseline", body = Outcomes),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Outcomes>> {
    let id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    let found = spotter_db::transaction(&mut conn, async |conn| {
        for_roles(conn, &caller, id, false, &CARE).await?;
        let outcomes = measures::outcomes(conn, id).await?;
        audit::record(conn, &caller, action::OUTCOME_READ, id)
            .await
            .map_err(db_error)?;
        Ok(outcomes)
    })
    .await;
    let outcomes = audit::refusal_recorded(&mut conn, &caller, id, found).await?;
    Ok(web::Json(outcomes))
}
