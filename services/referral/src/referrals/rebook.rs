//! `POST /v1/referrals/{id}/rebook`: after a first missed appointment the
//! trainer takes up the one rebooking offered, with the same clinic
//! (docs/architecture.md, "Missed appointments").

use super::model::Referral;
use super::store::{find_visible, send_back_to_booking};
use super::view::ReferralSummary;
use crate::audit;
use crate::domain::lifecycle::{Decision, Happening, decide};
use crate::domain::vocabulary::TimelineCause;
use actix_web::web;
use spotter_auth::{Caller, Trainer};
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiError, ApiResult};
use uuid::Uuid;

#[utoipa::path(
    post,
    path = "/v1/referrals/{referral_id}/rebook",
    tag = "referrals",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    responses(
        (status = 200, description = "Back to `awaiting_booking`, at the clinic whose appointment was missed only", body = ReferralSummary),
        (status = 409, description = "Only a first missed appointment can be rebooked", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn rebook(
    _trainer: Trainer,
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<ReferralSummary>> {
    let id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    let rebooked = spotter_db::transaction(&mut conn, async |conn| {
        let referral: Referral = find_visible(conn, &caller, id, true).await?;
        let (Decision::Apply(to), Some(clinic)) = (
            decide(referral.status, Happening::RebookedAfterNoShow),
            referral.clinic_id,
        ) else {
            return Err(ApiError::Conflict(format!(
                "only a first missed appointment can be rebooked; this referral is {}",
                referral.status
            )));
        };
        send_back_to_booking(
            conn,
            &referral,
            to,
            TimelineCause::RebookedAfterNoShow,
            Some(clinic),
        )
        .await
        .map_err(db_error)
    })
    .await;
    let rebooked = audit::refusal_recorded(&mut conn, &caller, id, rebooked).await?;
    Ok(web::Json(ReferralSummary::from(&rebooked)))
}
