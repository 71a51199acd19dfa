//! `GET /admin/v1/clinics/{id}/referrals`: how fast a clinic serves its
//! referrals — time from the trainer's flag to a booking, and to guidance —
//! per referral and as a median and 90th percentile. No health detail.

use crate::domain::lifecycle::Status;
use crate::domain::vocabulary::Priority;
use crate::referrals::model::{Referral, WAITING_SINCE_SQL};
use crate::schema::referrals;
use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use spotter_auth::Admin;
use spotter_db::db_error;
use spotter_db::{Pool, checkout};
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::pagination::{Page, PageParams};
use spotter_platform::{ApiError, ApiResult};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicReferral {
    pub id: Uuid,
    pub status: Status,
    pub priority: Priority,
    pub created_at: DateTime<Utc>,
    pub target_missed: Option<bool>,
    /// When it was found still unbooked past its target (before it was
    /// booked here; docs/architecture.md, "Deadlines").
    pub overdue_since: Option<DateTime<Utc>>,
    /// Seconds to the first booking, from the injury report (or, for a
    /// referral a doctor saw first, from the doctor's clearance).
    pub time_to_book_seconds: Option<i64>,
    /// Seconds to the first guidance, counted the same way.
    pub time_to_guidance_seconds: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema, QueryableByName)]
pub struct Summary {
    #[diesel(sql_type = Nullable<Double>)]
    pub time_to_book_median_seconds: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    pub time_to_book_p90_seconds: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    pub time_to_guidance_median_seconds: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    pub time_to_guidance_p90_seconds: Option<f64>,
    /// Referrals that waited past their target before they were booked here.
    #[diesel(sql_type = BigInt)]
    pub overdue: i64,
    /// Of the referrals booked here, the share whose appointment falls
    /// within their target (seen within 48 h urgent, 7 days routine; not
    /// `target_missed`), 0 to 1; null before the first booking.
    #[diesel(sql_type = Nullable<Double>)]
    pub booked_within_target_share: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicReferrals {
    #[serde(flatten)]
    pub page: Page<ClinicReferral>,
    /// Over the clinic's referrals flagged in the last 90 days, not just
    /// this page.
    pub summary: Summary,
}

/// How far back the clinic's summary looks, in days.
const SUMMARY_DAYS: i32 = 90;

fn seconds(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> Option<i64> {
    to.map(|to| (to - from).num_seconds())
}

#[utoipa::path(
    get,
    path = "/admin/v1/clinics/{clinic_id}/referrals",
    tag = "referrals",
    params(("clinic_id" = Uuid, Path, description = "The clinic"), PageParams),
    responses((status = 200, description = "The clinic's referrals with their timings", body = ClinicReferrals), AuthProblems, NotFoundProblem),
    security(("bearer" = []))
)]
pub async fn list(
    admin: Admin,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    params: web::Query<PageParams>,
) -> ApiResult<web::Json<ClinicReferrals>> {
    let clinic_id = path.into_inner();
    if !admin.may_manage(clinic_id) {
        return Err(ApiError::NotFound);
    }
    let (limit, before) = params.parse()?;
    let mut conn = checkout(&pool).await?;
    let mut rows = referrals::table
        .filter(referrals::clinic_id.eq(clinic_id))
        .order(referrals::id.desc())
        .limit(limit + 1)
        .select(Referral::as_select())
        .into_boxed();
    if let Some(before) = before {
        rows = rows.filter(referrals::id.lt(before));
    }
    let found: Vec<Referral> = rows.load(&mut conn).await.map_err(db_error)?;
    let items = found
        .into_iter()
        .map(|r| ClinicReferral {
            id: r.id,
            status: r.status,
            priority: r.priority,
            created_at: r.created_at,
            target_missed: r.target_missed,
            overdue_since: r.overdue_since,
            time_to_book_seconds: seconds(r.waiting_since(), r.first_booked_at),
            time_to_guidance_seconds: seconds(r.waiting_since(), r.first_guidance_at),
        })
        .collect();
    // Timings count from when the client began waiting for a physio
    // (`Referral::waiting_since`), as each row's do. Only a recent window
    // (index `referrals_by_clinic_created`): the figures say how the clinic
    // does now, and their cost does not grow with its whole history.
    let summary: Summary = diesel::sql_query(format!(
        "SELECT \
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_booked_at - {since})) AS time_to_book_median_seconds, \
           percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_booked_at - {since})) AS time_to_book_p90_seconds, \
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM first_guidance_at - {since})) AS time_to_guidance_median_seconds, \
           percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_guidance_at - {since})) AS time_to_guidance_p90_seconds, \
           count(*) FILTER (WHERE overdue_since IS NOT NULL) AS overdue, \
           count(*) FILTER (WHERE first_booked_at IS NOT NULL AND target_missed IS NOT TRUE)::float8 \
             / nullif(count(*) FILTER (WHERE first_booked_at IS NOT NULL), 0) \
             AS booked_within_target_share \
         FROM referrals WHERE clinic_id = $1 AND created_at >= now() - make_interval(days => $2)",
        since = WAITING_SINCE_SQL
    ))
    .bind::<diesel::sql_types::Uuid, _>(clinic_id)
    .bind::<diesel::sql_types::Integer, _>(SUMMARY_DAYS)
    .get_result(&mut conn)
    .await.map_err(db_error)?;
    Ok(web::Json(ClinicReferrals {
        page: Page::from_rows(items, limit, |r| r.id),
        summary,
    }))
}
