//! `POST/GET /v1/referrals/{id}/sessions` and
//! `PATCH /v1/referrals/{id}/sessions/{session_id}`: the trainer logs each
//! session with the client; the treating physio reads the log.

use super::access::{CARE, for_logging, for_roles, load_of, require_care};
use super::flares::{self, Flare};
use super::sessions::{self, NewSession, PainAfter, SessionRow, SessionView};
use crate::audit::{self, action};
use crate::domain::training::flare::{FlareSign, signs};
use crate::guidance;
use crate::referrals::model::Referral;
use crate::schema::training_sessions;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_auth::{Caller, Role};
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::extract::{IdempotencyKey, from_value};
use spotter_platform::openapi::{AuthProblems, InputProblems, NotFoundProblem};
use spotter_platform::pagination::{Page, PageParams};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiError, ApiResult, Json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// A logged session and, when it was a flare, where to drop back to.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoggedSession {
    pub session: SessionView,
    /// Only after a flare: the last session within limits before it (null
    /// when there is none: drop back to what the guidance prescribes).
    pub drop_back_to: Option<SessionView>,
    /// Only after a flare: two or more in 7 days, so the physio is offered
    /// an earlier review.
    pub earlier_review_suggested: bool,
}

#[utoipa::path(
    post,
    path = "/v1/referrals/{referral_id}/sessions",
    tag = "training",
    params(
        ("referral_id" = Uuid, Path, description = "The referral"),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = "^[!-~]+$", description = "Retries with the same key and body return the first response (and log one session)"),
    ),
    request_body = NewSession,
    responses(
        (status = 201, description = "Logged; past the guidance's limits it is a flare, and the physio is told", body = LoggedSession),
        (status = 409, description = "No guidance yet, or the client is no longer under care", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn log(
    caller: Caller,
    key: IdempotencyKey,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    body: Json<serde_json::Value>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let raw = body.into_inner();
    let input: NewSession = from_value(raw.clone())?;
    input.validate(Utc::now())?;
    let mut conn = checkout(&pool).await?;
    audit::created_once(&mut conn, &caller, id, &key, &raw, async |conn| {
        // The referral's row is held: sessions logged at once count each
        // other's flares.
        let referral = for_roles(conn, &caller, id, true, &[Role::Trainer]).await?;
        let in_force = for_logging(conn, &referral).await?;
        let found = signs(in_force.load, input.reported());
        let row = sessions::insert(conn, id, &input, in_force.guidance.version, &found).await?;
        audit::record(conn, &caller, action::TRAINING_SESSION_WRITE, id)
            .await
            .map_err(db_error)?;
        told(conn, &referral, row, &found).await
    })
    .await
}

/// The session as the trainer sees it back; a flare is announced first.
async fn told(
    conn: &mut AsyncPgConnection,
    referral: &Referral,
    row: SessionRow,
    found: &[FlareSign],
) -> ApiResult<LoggedSession> {
    let flare = if found.is_empty() {
        Flare::default()
    } else {
        flares::announce(conn, referral, &row, found).await?
    };
    Ok(LoggedSession {
        session: row.view()?,
        drop_back_to: flare.drop_back_to.map(SessionRow::view).transpose()?,
        earlier_review_suggested: flare.earlier_review_suggested,
    })
}

#[utoipa::path(
    patch,
    path = "/v1/referrals/{referral_id}/sessions/{session_id}",
    tag = "training",
    params(
        ("referral_id" = Uuid, Path, description = "The referral"),
        ("session_id" = Uuid, Path, description = "The logged session"),
    ),
    request_body = PainAfter,
    responses(
        (status = 200, description = "The pain 24 hours later, recorded; above the ceiling it makes the session a flare (told once per session)", body = LoggedSession),
        (status = 409, description = "Already recorded", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        InputProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn pain_after(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<(Uuid, Uuid)>,
    body: Json<serde_json::Value>,
) -> ApiResult<web::Json<LoggedSession>> {
    let (id, session_id) = path.into_inner();
    let input: PainAfter = from_value(body.into_inner())?;
    let mut conn = checkout(&pool).await?;
    let logged = spotter_db::transaction(&mut conn, async |conn| {
        let referral = for_roles(conn, &caller, id, true, &[Role::Trainer]).await?;
        // Like a new session: a closed referral (consent withdrawn,
        // cancelled, discharged) takes no more health data.
        require_care(&referral)?;
        let Some(row) = sessions::find(conn, id, session_id)
            .await
            .map_err(db_error)?
        else {
            // Their own referral, a session it does not have: no refusal
            // to audit.
            return Ok(None);
        };
        if row.pain_after.is_some() {
            return Err(ApiError::Conflict(
                "the pain 24 hours after this session is already recorded".to_owned(),
            ));
        }
        // Held to the limits of the version it was logged under.
        let logged_under = guidance::version(conn, id, row.guidance_version).await?;
        let mut reported = row.reported();
        reported.pain_after = Some(input.pain_after_24h.get());
        let found = signs(load_of(&logged_under), reported);
        let newly_flared = row.flare_signs.is_empty() && !found.is_empty();
        let row: SessionRow = diesel::update(training_sessions::table.find(row.id))
            .set((
                training_sessions::pain_after.eq(input.pain_after_24h.get_i16()),
                training_sessions::flare_signs.eq(sessions::codes(&found)),
                // The database's clock, like the insert's: one clock for
                // `updated_since`.
                training_sessions::updated_at.eq(diesel::dsl::now),
            ))
            .returning(SessionRow::as_returning())
            .get_result(conn)
            .await
            .map_err(db_error)?;
        audit::record(conn, &caller, action::TRAINING_SESSION_WRITE, id)
            .await
            .map_err(db_error)?;
        let announce: &[FlareSign] = if newly_flared { &found } else { &[] };
        told(conn, &referral, row, announce).await.map(Some)
    })
    .await;
    let logged = audit::refusal_recorded(&mut conn, &caller, id, logged).await?;
    logged.map(web::Json).ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SessionQuery {
    /// Only sessions logged or changed since (RFC 3339): the app's delta sync.
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
    path = "/v1/referrals/{referral_id}/sessions",
    tag = "training",
    params(("referral_id" = Uuid, Path, description = "The referral"), SessionQuery),
    responses(
        (status = 200, description = "The session log, latest logged first", body = Page<SessionView>),
        (status = 422, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
        NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
    query: web::Query<SessionQuery>,
) -> ApiResult<web::Json<Page<SessionView>>> {
    let id = path.into_inner();
    let query = query.into_inner();
    let (limit, before) = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let mut conn = checkout(&pool).await?;
    let rows = spotter_db::transaction(&mut conn, async |conn| {
        for_roles(conn, &caller, id, false, &CARE).await?;
        let mut rows = training_sessions::table
            .filter(training_sessions::referral_id.eq(id))
            .order(training_sessions::id.desc())
            .limit(limit + 1)
            .select(SessionRow::as_select())
            .into_boxed();
        if let Some(since) = query.updated_since {
            rows = rows.filter(training_sessions::updated_at.gt(since));
        }
        if let Some(before) = before {
            rows = rows.filter(training_sessions::id.lt(before));
        }
        let rows: Vec<SessionRow> = rows.load(conn).await.map_err(db_error)?;
        audit::record(conn, &caller, action::TRAINING_SESSION_READ, id)
            .await
            .map_err(db_error)?;
        Ok(rows)
    })
    .await;
    let rows = audit::refusal_recorded(&mut conn, &caller, id, rows).await?;
    let views = rows
        .into_iter()
        .map(SessionRow::view)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(web::Json(Page::from_rows(
        views,
        limit,
        |s: &SessionView| s.id,
    )))
}
