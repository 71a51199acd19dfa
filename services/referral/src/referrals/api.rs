//! `GET /v1/referrals`, `GET /v1/referrals/{id}`, `POST /v1/referrals/{id}/cancel`.

use super::access::{sees_health_detail, sees_visit_at};
use super::model::{Referral, TimelineEntry, move_to, timeline};
use super::queue;
use super::store::{find_visible, injury};
use super::view::{ClientView, Durations, ReferralDetail, ReferralSummary};
use super::visits;
use crate::audit::{self, action};
use crate::domain::lifecycle::{Decision, Happening, MEDICAL_ADVICE, Status, decide};
use crate::domain::vocabulary::CancelReason;
use crate::domain::vocabulary::TimelineCause;
use crate::events;
use crate::guidance;
use crate::schema::{clients, referrals};
use crate::screening;
use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Deserialize;
use spotter_auth::{Caller, Role, Trainer};
use spotter_db::db_error;
use spotter_db::{Pool, checkout};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::pagination::{Page, PageParams};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiError, ApiResult, Json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReferralQuery {
    /// Only referrals in this status.
    #[param(value_type = Option<Status>)]
    pub status: Option<String>,
    /// Only referrals changed since (RFC 3339): the app's delta sync.
    pub updated_since: Option<DateTime<Utc>>,
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/referrals",
    tag = "referrals",
    params(ReferralQuery),
    responses(
        (status = 200, description = "The caller's referrals, newest first", body = Page<ReferralSummary>),
        (status = 422, description = "Bad filter or cursor", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    caller: Caller,
    pool: web::Data<Pool>,
    query: web::Query<ReferralQuery>,
) -> ApiResult<web::Json<Page<ReferralSummary>>> {
    let query = query.into_inner();
    let (limit, before) = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    // Parsed here, not by the query extractor, so the 422 names `status`.
    let status = match &query.status {
        Some(name) => Some(
            name.parse::<Status>()
                .map_err(|_| ApiError::invalid("status", "is not a referral status"))?,
        ),
        None => None,
    };
    let mut conn = checkout(&pool).await?;
    let mut rows = referrals::table
        .order(referrals::id.desc())
        .limit(limit + 1)
        .select(Referral::as_select())
        .into_boxed();
    rows = match caller.role {
        Role::Trainer => rows.filter(referrals::trainer_id.eq(caller.user_id)),
        Role::Physio => rows.filter(super::access::treated_by(&caller)),
        Role::ClinicAdmin => {
            rows.filter(referrals::clinic_id.eq(caller.clinic_id.ok_or(ApiError::NotFound)?))
        }
        Role::PlatformAdmin => rows,
    };
    if let Some(status) = status {
        rows = rows.filter(referrals::status.eq(status.as_str()));
    }
    if let Some(since) = query.updated_since {
        rows = rows.filter(referrals::updated_at.gt(since));
    }
    if let Some(before) = before {
        rows = rows.filter(referrals::id.lt(before));
    }
    let found: Vec<Referral> = rows.load(&mut conn).await.map_err(db_error)?;
    let summaries = found.iter().map(ReferralSummary::from).collect();
    Ok(web::Json(Page::from_rows(
        summaries,
        limit,
        |s: &ReferralSummary| s.id,
    )))
}

#[utoipa::path(
    get,
    path = "/v1/referrals/{referral_id}",
    tag = "referrals",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    responses((status = 200, description = "Status, timeline, appointment; client, injury and guidance for the trainer and the assigned physio", body = ReferralDetail), AuthProblems, NotFoundProblem),
    security(("bearer" = []))
)]
pub async fn get(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<ReferralDetail>> {
    let id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    let detail = spotter_db::transaction(&mut conn, async |conn| {
        let referral = find_visible(conn, &caller, id, false).await?;
        let health_detail = sees_health_detail(&caller, &referral);
        let mut timeline = timeline(conn, id).await.map_err(db_error)?;
        if !health_detail {
            timeline = without_medical_advice(timeline);
        }
        let (client, injury, guidance, screening, outcomes) = if health_detail {
            let client = clients::table
                .find(referral.client_id)
                .select((clients::id, clients::display_name))
                .first::<(Uuid, String)>(conn)
                .await
                .map_err(db_error)?;
            let injury = injury(conn, id).await.map_err(db_error)?;
            audit::record(conn, &caller, action::INJURY_READ, id)
                .await
                .map_err(db_error)?;
            let current = guidance::current(conn, id).await?;
            if current.is_some() {
                audit::record(conn, &caller, action::GUIDANCE_READ, id)
                    .await
                    .map_err(db_error)?;
            }
            let screening = screening::store::find(conn, id, referral.priority, current.is_some())
                .await
                .map_err(db_error)?;
            let outcomes = crate::training::measures::outcomes(conn, id).await?;
            audit::record(conn, &caller, action::OUTCOME_READ, id)
                .await
                .map_err(db_error)?;
            (
                Some(ClientView {
                    id: client.0,
                    display_name: client.1,
                }),
                Some(injury),
                current,
                screening,
                Some(outcomes),
            )
        } else {
            (None, None, None, None, None)
        };
        let booking_queue = if referral.status == Status::AwaitingBooking {
            let now = Utc::now();
            Some(
                queue::estimate(conn, referral.priority, referral.waiting_since(), now)
                    .await
                    .map_err(db_error)?,
            )
        } else {
            None
        };
        let awaiting = crate::deadlines::awaiting(conn, &referral)
            .await
            .map_err(db_error)?;
        let visits = visits::of(conn, id)
            .await
            .map_err(db_error)?
            .into_iter()
            .filter(|visit| sees_visit_at(&caller, visit.clinic_id))
            .collect();
        let guidance_versions = guidance::versions(conn, id).await.map_err(db_error)?;
        let first_acknowledged_at = guidance_versions
            .iter()
            .filter_map(|v| v.acknowledged_at)
            .min();
        Ok(ReferralDetail {
            summary: ReferralSummary::from(&referral),
            timeline,
            client,
            injury,
            triage: screening,
            guidance,
            booking_queue,
            awaiting,
            visits,
            previous_referral_id: referral.previous_referral_id.filter(|_| health_detail),
            guidance_versions,
            durations: Durations::of(&referral, first_acknowledged_at),
            outcomes,
        })
    })
    .await;
    let detail = audit::refusal_recorded(&mut conn, &caller, id, detail).await?;
    Ok(web::Json(detail))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelReferral {
    /// `consent_withdrawn`: the client's data may no longer be shared (the
    /// booking is cancelled too).
    pub reason: CancelReason,
}

#[utoipa::path(
    post,
    path = "/v1/referrals/{referral_id}/cancel",
    tag = "referrals",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    request_body = CancelReferral,
    responses(
        (status = 200, description = "Cancelled; any appointment is cancelled too", body = ReferralSummary),
        (status = 409, description = "Too late to cancel (already seen, or already ended)", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn cancel(
    _trainer: Trainer,
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<CancelReferral>,
) -> ApiResult<web::Json<ReferralSummary>> {
    let reason = body.into_inner().reason;
    let id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    let cancelled = spotter_db::transaction(&mut conn, async |conn| {
        let referral = find_visible(conn, &caller, id, true).await?;
        let from = referral.status;
        let Decision::Apply(to) = decide(from, Happening::CancelledForGood) else {
            return Err(ApiError::Conflict(format!(
                "a referral that is {} can no longer be cancelled",
                from.as_str()
            )));
        };
        let cancelled = move_to(conn, id, to, TimelineCause::from(reason))
            .await
            .map_err(db_error)?;
        // Booking holds nothing for a referral sent to medical care; for
        // the others it may hold an appointment or a waitlist place.
        if MEDICAL_ADVICE.contains(&from) {
            // No doctor's clearance is awaited any more.
            crate::deadlines::CareDeadlines::medical_clearance_ended(conn, id)
                .await
                .map_err(db_error)?;
        } else {
            let event = events::cancelled(&cancelled, reason);
            spotter_messaging::enqueue(conn, &event)
                .await
                .map_err(db_error)?;
        }
        Ok(cancelled)
    })
    .await;
    let cancelled = audit::refusal_recorded(&mut conn, &caller, id, cancelled).await?;
    Ok(web::Json(ReferralSummary::from(&cancelled)))
}

/// The timeline as those who may not see health detail see it (a clinic, a
/// platform admin): that triage first sent the client to emergency or a
/// doctor's care says something about their health, so those entries are
/// left out, and a doctor's clearance reads as the flag that reached
/// booking (docs/triage.md, "Who sees it").
fn without_medical_advice(entries: Vec<TimelineEntry>) -> Vec<TimelineEntry> {
    entries
        .into_iter()
        .filter(|e| !MEDICAL_ADVICE.contains(&e.status))
        .map(|mut e| {
            if e.cause == TimelineCause::MedicallyCleared {
                e.cause = TimelineCause::InjuryReported;
            }
            e
        })
        .collect()
}
