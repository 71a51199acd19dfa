//! The platform admins' worklist: referrals that clinics declined or
//! cancelled `quotas.refusals_before_review` times stop booking by themselves
//! and wait here (docs/architecture.md, "Fair use"). A platform admin looks
//! at who refused and why, then releases the referral to be booked again
//! (still never at a clinic that refused it) or leaves the trainer to cancel.

use crate::engine::book::{Outcome, Rules, book_or_waitlist};
use crate::engine::refusals::{DeclineReason, RefusalKind};
use crate::engine::requests::{ReferralRequest, RequestState};
use crate::schema::{clinic_refusals, referral_requests};
use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use spotter_auth::PlatformAdmin;
use spotter_db::coded::decode;
use spotter_db::{OrNotFound, Pool, checkout, db_error};
use spotter_platform::ApiResult;
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::pagination::{Page, PageParams};
use spotter_platform::vocabulary::Priority;
use std::collections::HashMap;
use utoipa::ToSchema;
use uuid::Uuid;

/// One clinic's refusal of the referral.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refusal {
    pub clinic_id: Uuid,
    pub kind: RefusalKind,
    pub decline_reason: Option<DeclineReason>,
    pub at: DateTime<Utc>,
}

// No body region: with the referral's id that would be health detail, which
// admins never see; the refusals say what the clinics thought.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewItem {
    pub referral_id: Uuid,
    pub priority: Priority,
    pub requested_at: DateTime<Utc>,
    /// Every refusal so far, oldest first.
    pub refusals: Vec<Refusal>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Worklist {
    /// In the order referrals were first made (their ids are time-ordered).
    pub items: Vec<ReviewItem>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/worklist",
    tag = "worklist",
    params(PageParams),
    responses(
        (status = 200, description = "Referrals refused too often, or by every clinic within reach, to book by themselves", body = Worklist),
        (status = 422, description = "Bad limit or cursor", body = spotter_platform::problem::Problem, content_type = "application/problem+json"),
        AuthProblems,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    _admin: PlatformAdmin,
    pool: web::Data<Pool>,
    params: web::Query<PageParams>,
) -> ApiResult<web::Json<Worklist>> {
    let (limit, after) = params.parse()?;
    let mut conn = checkout(&pool).await?;
    let mut query = referral_requests::table
        .filter(referral_requests::state.eq(RequestState::NeedsReview))
        .order(referral_requests::referral_id.asc())
        .limit(limit + 1)
        .select((
            referral_requests::referral_id,
            referral_requests::priority,
            referral_requests::requested_at,
        ))
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(referral_requests::referral_id.gt(after));
    }
    let rows: Vec<(Uuid, String, DateTime<Utc>)> = query.load(&mut conn).await.map_err(db_error)?;
    let Page {
        items: waiting,
        next_cursor,
    } = Page::from_rows(rows, limit, |w| w.0);
    let ids: Vec<Uuid> = waiting.iter().map(|w| w.0).collect();
    let rows: Vec<RefusalRow> = clinic_refusals::table
        .filter(clinic_refusals::referral_id.eq_any(&ids))
        .order(clinic_refusals::at.asc())
        .select((
            clinic_refusals::referral_id,
            clinic_refusals::clinic_id,
            clinic_refusals::decline_reason,
            clinic_refusals::at,
        ))
        .load(&mut conn)
        .await
        .map_err(db_error)?;
    let mut refusals: HashMap<Uuid, Vec<Refusal>> = HashMap::new();
    for (referral, clinic_id, reason, at) in rows {
        let decline_reason = reason
            .as_deref()
            .map(decode)
            .transpose()
            .map_err(db_error)?;
        refusals.entry(referral).or_default().push(Refusal {
            clinic_id,
            kind: RefusalKind::of(decline_reason),
            decline_reason,
            at,
        });
    }
    let items = waiting
        .into_iter()
        .map(|(referral_id, priority, requested_at)| {
            Ok(ReviewItem {
                referral_id,
                priority: decode(&priority).map_err(db_error)?,
                requested_at,
                refusals: refusals.remove(&referral_id).unwrap_or_default(),
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(web::Json(Worklist { items, next_cursor }))
}

/// referral, clinic, decline reason, when.
type RefusalRow = (Uuid, Uuid, Option<String>, DateTime<Utc>);

#[derive(Debug, Serialize, ToSchema)]
pub struct Released {
    /// `booked` or `waitlisted`: what booking it again came to.
    pub state: RequestState,
}

#[utoipa::path(
    post,
    path = "/admin/v1/worklist/{referral_id}/release",
    tag = "worklist",
    params(("referral_id" = Uuid, Path, description = "A referral on the worklist")),
    responses(
        (status = 200, description = "Booked again at once (never at a clinic that refused it), or waitlisted; the refusals so far no longer count towards the next review", body = Released),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn release(
    _admin: PlatformAdmin,
    pool: web::Data<Pool>,
    rules: web::Data<Rules>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Released>> {
    let referral_id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    spotter_db::transaction(&mut conn, async |conn| {
        let request: ReferralRequest = referral_requests::table
            .find(referral_id)
            .filter(referral_requests::state.eq(RequestState::NeedsReview))
            .select(ReferralRequest::as_select())
            .for_update()
            .first(conn)
            .await
            .or_not_found()?;
        let refused: i64 = clinic_refusals::table
            .filter(clinic_refusals::referral_id.eq(referral_id))
            .count()
            .get_result(conn)
            .await
            .map_err(db_error)?;
        diesel::update(referral_requests::table.find(referral_id))
            .set((
                referral_requests::refusals_reviewed.eq(i32::try_from(refused).unwrap_or(i32::MAX)),
                referral_requests::state.eq(RequestState::Pending),
                referral_requests::updated_at.eq(Utc::now()),
            ))
            .execute(conn)
            .await
            .map_err(db_error)?;
        let outcome = book_or_waitlist(conn, &request, true, **rules)
            .await
            .map_err(db_error)?;
        let state = match outcome {
            Outcome::Booked(_) | Outcome::AlreadyBooked => RequestState::Booked,
            Outcome::NeedsReview => RequestState::NeedsReview,
            Outcome::NoSlot(_) | Outcome::Contended => RequestState::Waitlisted,
        };
        if matches!(outcome, Outcome::Contended) {
            // Waitlisted to be retried by the worker, as a contended consumer
            // delivery would be redelivered.
            crate::engine::book::mark(conn, referral_id, RequestState::Waitlisted)
                .await
                .map_err(db_error)?;
        }
        Ok(Released { state })
    })
    .await
    .map(web::Json)
}
