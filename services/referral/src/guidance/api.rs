//! `POST/GET /v1/referrals/{id}/guidance` and its acknowledgement.

use super::model::{GuidanceHistory, GuidanceRow, GuidanceView, to_json};
use super::validate::NewGuidance;
use crate::audit::{self, action};
use crate::deadlines::CareDeadlines;
use crate::domain::lifecycle::{Decision, Happening, Status, decide};
use crate::domain::vocabulary::TimelineCause;
use crate::events::{self, GuidanceFacts};
use crate::referrals::model::Because;
use crate::referrals::model::{append_timeline, move_to};
use crate::referrals::store::find_visible;
use crate::schema::{guidance, referrals};
use crate::training::adherence_weeks;
use actix_web::{HttpResponse, web};
use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_auth::{Caller, Physio, Role, Trainer};
use spotter_db::db_error;
use spotter_db::{Pool, checkout};
use spotter_platform::extract::{IdempotencyKey, from_value};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiError, ApiResult, Json};
use uuid::Uuid;

#[utoipa::path(
    post,
    path = "/v1/referrals/{referral_id}/guidance",
    tag = "guidance",
    params(
        ("referral_id" = Uuid, Path, description = "The referral"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]+$", description = "Retries with the same key and body return the first response (and share one version)"),
    ),
    request_body = NewGuidance,
    responses(
        (status = 201, description = "The new current version; the trainer is told", body = GuidanceView),
        (status = 409, description = "The client has not been assessed yet", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn share(
    physio: Physio,
    caller: Caller,
    key: IdempotencyKey,
    pool: web::Data<Pool>,
    care: web::Data<CareDeadlines>,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let raw = body.into_inner();
    let input: NewGuidance = from_value(raw.clone())?;
    input.validate(Utc::now().date_naive())?;
    let mut conn = checkout(&pool).await?;
    audit::created_once(&mut conn, &caller, id, &key, &raw, async |conn| {
        write_guidance(conn, &caller, &care, physio.id, id, &input).await
    })
    .await
}

/// Versions and stores the guidance, moves the referral, audits, and tells
/// the saga, in the caller's transaction.
async fn write_guidance(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    care: &CareDeadlines,
    physio_id: Uuid,
    id: Uuid,
    input: &NewGuidance,
) -> ApiResult<GuidanceView> {
    // Only the physio the client saw: anyone else finds nothing.
    let referral = find_visible(conn, caller, id, true).await?;
    let happening = if input.discharges() {
        Happening::Discharged
    } else {
        Happening::GuidanceShared
    };
    let Decision::Apply(to) = decide(referral.status, happening) else {
        return Err(ApiError::Conflict(format!(
            "guidance follows an assessment; this referral is {}",
            referral.status
        )));
    };
    let version = guidance::table
        .filter(guidance::referral_id.eq(id))
        .select(diesel::dsl::max(guidance::version))
        .first::<Option<i32>>(conn)
        .await
        .map_err(db_error)?
        .unwrap_or(0)
        + 1;
    let row: GuidanceRow = diesel::insert_into(guidance::table)
        .values((
            guidance::id.eq(Uuid::now_v7()),
            guidance::referral_id.eq(id),
            guidance::version.eq(version),
            guidance::physio_id.eq(physio_id),
            guidance::clearance.eq(input.clearance.as_str()),
            guidance::avoid.eq(to_json(&input.avoid)?),
            guidance::exercises.eq(to_json(&input.exercises)?),
            guidance::load_limits.eq(to_json(&input.load_limits)?),
            guidance::review_on.eq(input.review_on),
            guidance::notes_for_trainer.eq(input.notes_for_trainer.as_str()),
        ))
        .returning(GuidanceRow::as_returning())
        .get_result(conn)
        .await
        .map_err(db_error)?;
    let moved = move_to(
        conn,
        id,
        to,
        Because::guidance(TimelineCause::GuidanceShared, version),
    )
    .await
    .map_err(db_error)?;
    if to == Status::Discharged {
        // The final summary is this version: its entry says so too.
        let because = Because::guidance(TimelineCause::Discharged, version);
        append_timeline(conn, id, to, because)
            .await
            .map_err(db_error)?;
    }
    // The course's milestones, in one statement: the first guidance, and
    // the discharge this version makes.
    let discharged_at = if to == Status::Discharged {
        Some(row.created_at)
    } else {
        moved.discharged_at
    };
    let first_guidance_at = moved.first_guidance_at.or(Some(row.created_at));
    if (first_guidance_at, discharged_at) != (moved.first_guidance_at, moved.discharged_at) {
        diesel::update(referrals::table.find(id))
            .set((
                referrals::first_guidance_at.eq(first_guidance_at),
                referrals::discharged_at.eq(discharged_at),
            ))
            .execute(conn)
            .await
            .map_err(db_error)?;
    }
    audit::record(conn, caller, action::GUIDANCE_WRITE, id)
        .await
        .map_err(db_error)?;
    care.guidance_shared(conn, id, row.created_at)
        .await
        .map_err(db_error)?;
    let has_exercises = !input.exercises.is_empty();
    adherence_weeks::guidance_shared(conn, &moved, has_exercises, row.created_at)
        .await
        .map_err(db_error)?;
    let facts = GuidanceFacts {
        guidance_id: row.id,
        version,
        physio_id,
        clearance: row.clearance,
        review_on: row.review_on,
        at: row.created_at,
    };
    spotter_messaging::enqueue(conn, &events::guidance_shared(&moved, &facts))
        .await
        .map_err(db_error)?;
    if to == Status::Discharged {
        spotter_messaging::enqueue(conn, &events::discharged(&moved, &facts))
            .await
            .map_err(db_error)?;
    }
    row.view()
}

#[utoipa::path(
    get,
    path = "/v1/referrals/{referral_id}/guidance",
    tag = "guidance",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    responses((status = 200, description = "Current guidance and every earlier version", body = GuidanceHistory), AuthProblems, NotFoundProblem),
    security(("bearer" = []))
)]
pub async fn history(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<GuidanceHistory>> {
    let id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    if !matches!(caller.role, Role::Trainer | Role::Physio) {
        // Health detail: the trainer and the physio only.
        return audit::refusal_recorded(&mut conn, &caller, id, Err(ApiError::NotFound)).await;
    }
    let versions = spotter_db::transaction(&mut conn, async |conn| {
        find_visible(conn, &caller, id, false).await?;
        let versions = super::model::all(conn, id).await?;
        audit::record(conn, &caller, action::GUIDANCE_READ, id)
            .await
            .map_err(db_error)?;
        Ok(versions)
    })
    .await;
    let versions = audit::refusal_recorded(&mut conn, &caller, id, versions).await?;
    Ok(web::Json(GuidanceHistory {
        current: <[GuidanceView]>::first(&versions).cloned(),
        versions,
    }))
}

#[utoipa::path(
    post,
    path = "/v1/referrals/{referral_id}/guidance/acknowledge",
    tag = "guidance",
    params(("referral_id" = Uuid, Path, description = "The referral")),
    responses(
        (status = 200, description = "The current guidance, acknowledged; the physio is told", body = GuidanceView),
        (status = 409, description = "No unacknowledged guidance", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn acknowledge(
    _trainer: Trainer,
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<GuidanceView>> {
    let id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    let acknowledged = spotter_db::transaction(&mut conn, async |conn| {
        let referral = find_visible(conn, &caller, id, true).await?;
        let latest: Option<GuidanceRow> = guidance::table
            .filter(guidance::referral_id.eq(id))
            .order(guidance::version.desc())
            .select(GuidanceRow::as_select())
            .first(conn)
            .await
            .optional()
            .map_err(db_error)?;
        // A discharge's final summary is acknowledged like any version, and
        // the referral stays discharged.
        let happening = if referral.status == Status::Discharged {
            Happening::FinalSummaryAcknowledged
        } else {
            Happening::GuidanceAcknowledged
        };
        let (Decision::Apply(to), Some(latest)) = (decide(referral.status, happening), latest)
        else {
            return Err(no_new_guidance(referral.status));
        };
        if latest.acknowledged_at.is_some() {
            return Err(no_new_guidance(referral.status));
        }
        let now = Utc::now();
        let row: GuidanceRow = diesel::update(guidance::table.find(latest.id))
            .set(guidance::acknowledged_at.eq(now))
            .returning(GuidanceRow::as_returning())
            .get_result(conn)
            .await
            .map_err(db_error)?;
        let moved = move_to(
            conn,
            id,
            to,
            Because::guidance(TimelineCause::GuidanceAcknowledged, row.version),
        )
        .await
        .map_err(db_error)?;
        audit::record(conn, &caller, action::GUIDANCE_READ, id)
            .await
            .map_err(db_error)?;
        CareDeadlines::acknowledged(conn, id)
            .await
            .map_err(db_error)?;
        let facts = GuidanceFacts {
            guidance_id: row.id,
            version: row.version,
            physio_id: row.physio_id,
            clearance: row.clearance,
            review_on: row.review_on,
            at: now,
        };
        spotter_messaging::enqueue(conn, &events::guidance_acknowledged(&moved, &facts))
            .await
            .map_err(db_error)?;
        row.view()
    })
    .await;
    let acknowledged = audit::refusal_recorded(&mut conn, &caller, id, acknowledged).await?;
    Ok(web::Json(acknowledged))
}

fn no_new_guidance(status: Status) -> ApiError {
    ApiError::Conflict(format!(
        "there is no new guidance to acknowledge; this referral is {status}"
    ))
}
