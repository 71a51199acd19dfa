//! `GET /admin/v1/clinics/{id}/refusals`: how often the clinic's physios and
//! admins declined or cancelled referrals lately, for its admins and the platform's
//! (each refusal sends a referral elsewhere and delays the client's care).

use super::access::clinic_in_scope;
use crate::engine::refusals::DeclineReason;
use crate::schema::clinic_refusals;
use actix_web::web;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use spotter_auth::Admin;
use spotter_db::coded::decode;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::ApiResult;
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use utoipa::ToSchema;
use uuid::Uuid;

/// The period counted: long enough to see a pattern, short enough to read
/// through the `(clinic_id, at)` index only what one clinic did lately.
const PERIOD_DAYS: i64 = 30;

#[derive(Debug, Serialize, ToSchema)]
pub struct DeclineCount {
    pub reason: DeclineReason,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicRefusals {
    /// Counted from here (30 days ago) to now.
    pub since: DateTime<Utc>,
    /// Declines by reason (reasons never used are left out).
    pub declined: Vec<DeclineCount>,
    /// Cancellations by the clinic's physios or admins, which sent a
    /// referral elsewhere (time off and deactivations are not counted).
    pub cancelled: i64,
}

#[utoipa::path(
    get,
    path = "/admin/v1/clinics/{clinic_id}/refusals",
    tag = "clinics",
    params(("clinic_id" = Uuid, Path, description = "The clinic")),
    responses(
        (status = 200, description = "The clinic's declines and clinic-side cancellations in the last 30 days", body = ClinicRefusals),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn summary(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<ClinicRefusals>> {
    let clinic_id = path.into_inner();
    clinic_in_scope(&admin, clinic_id)?;
    let since = Utc::now() - Duration::days(PERIOD_DAYS);
    let mut conn = checkout(&pool).await?;
    let rows: Vec<(Option<String>, i64)> = clinic_refusals::table
        .filter(clinic_refusals::clinic_id.eq(clinic_id))
        .filter(clinic_refusals::at.ge(since))
        .group_by(clinic_refusals::decline_reason)
        .select((clinic_refusals::decline_reason, diesel::dsl::count_star()))
        .load(&mut conn)
        .await
        .map_err(db_error)?;
    let mut summary = ClinicRefusals {
        since,
        declined: Vec::new(),
        cancelled: 0,
    };
    for (reason, count) in rows {
        match reason {
            Some(reason) => summary.declined.push(DeclineCount {
                reason: decode(&reason).map_err(db_error)?,
                count,
            }),
            None => summary.cancelled = count,
        }
    }
    summary.declined.sort_by_key(|d| d.reason);
    Ok(web::Json(summary))
}
