//! The audit log of health data: every read or write of injury or guidance
//! data records who, what, which referral and when — in the same transaction,
//! so there is no access without its record. Platform admins read it.

use crate::schema::{audit_log, referrals};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use spotter_auth::{Caller, PlatformAdmin};
use spotter_db::db_error;
use spotter_db::idempotency::{Created, create_once};
use spotter_db::{Pool, Work, checkout};
use spotter_platform::extract::IdempotencyKey;
use spotter_platform::openapi::AuthProblems;
use spotter_platform::pagination::{DEFAULT_LIMIT, MAX_LIMIT};
use spotter_platform::{ApiError, ApiResult};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub mod action {
    pub const INJURY_WRITE: &str = "injury_report.write";
    pub const INJURY_READ: &str = "injury_report.read";
    pub const GUIDANCE_WRITE: &str = "guidance.write";
    pub const GUIDANCE_READ: &str = "guidance.read";
    /// A doctor's clearance recorded after triage advised medical care.
    pub const MEDICAL_CLEARANCE_WRITE: &str = "medical_clearance.write";
    /// The trainer's session log (docs/training.md).
    pub const TRAINING_SESSION_WRITE: &str = "training_session.write";
    pub const TRAINING_SESSION_READ: &str = "training_session.read";
    /// Outcome measures (NPRS, PSFS) and the progress export.
    pub const OUTCOME_WRITE: &str = "outcome_measure.write";
    pub const OUTCOME_READ: &str = "outcome_measure.read";
    /// Sessions and measures exported as CSV.
    pub const PROGRESS_EXPORT: &str = "progress.export";
    /// A caller was refused a referral that exists (answered 404): another
    /// trainer's, or a physio whose access ended (consent withdrawn, the
    /// referral cancelled, deactivated, moved to another clinic).
    pub const ACCESS_REFUSED: &str = "referral.access_refused";
}

/// `create_once` for something made under a referral (guidance, a
/// session, measures): the `201` or its replay, and a `404` for a referral
/// the caller may not reach recorded as a refusal.
pub async fn created_once<T, W>(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    referral_id: Uuid,
    key: &IdempotencyKey,
    body: &serde_json::Value,
    work: W,
) -> ApiResult<HttpResponse>
where
    T: Serialize + Send,
    for<'c> W: AsyncFnOnce(&'c mut AsyncPgConnection) -> ApiResult<T> + Work<'c, T> + Send,
{
    let written = create_once(conn, caller.user_id, key, body, work).await;
    refusal_recorded(conn, caller, referral_id, written)
        .await
        .map(Created::response)
}

/// Returns `result` unchanged, after recording a refusal when it is a 404 for
/// a referral that exists. The entry gets its own transaction: the work's
/// own rolled back with its 404. A referral that does not exist records
/// nothing (there is nothing to protect, and no row to name).
pub async fn refusal_recorded<T>(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    referral_id: Uuid,
    result: ApiResult<T>,
) -> ApiResult<T> {
    if !matches!(result, Err(ApiError::NotFound)) {
        return result;
    }
    let exists: bool = diesel::select(diesel::dsl::exists(referrals::table.find(referral_id)))
        .get_result(conn)
        .await
        .map_err(db_error)?;
    if exists {
        record(conn, caller, action::ACCESS_REFUSED, referral_id)
            .await
            .map_err(db_error)?;
        tracing::info!(%referral_id, actor_id = %caller.user_id, role = caller.role.as_str(), "access to a referral refused");
    }
    result
}

pub async fn record(
    conn: &mut AsyncPgConnection,
    caller: &Caller,
    action: &str,
    referral_id: Uuid,
) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_id.eq(caller.user_id),
            audit_log::actor_role.eq(caller.role.as_str()),
            audit_log::action.eq(action),
            audit_log::referral_id.eq(referral_id),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Uuid,
    pub actor_role: String,
    pub action: String,
    pub referral_id: Uuid,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Only this referral's entries.
    pub referral_id: Option<Uuid>,
    /// Entries per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Entries older than this id (the last id of the previous page).
    #[param(minimum = 1, maximum = 9_223_372_036_854_775_807_i64)]
    pub before: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/audit-log",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Health-data access, newest first", body = AuditPage),
        (status = 422, description = "Bad limit", body = spotter_platform::problem::Problem, content_type = "application/problem+json"),
        AuthProblems,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    _admin: PlatformAdmin,
    pool: web::Data<Pool>,
    query: web::Query<AuditQuery>,
) -> ApiResult<web::Json<AuditPage>> {
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if query.before.is_some_and(|before| before < 1) {
        // Ids start at 1: nothing is older than 0, and the schema says so.
        return Err(ApiError::invalid("before", "must be at least 1"));
    }
    let mut conn = checkout(&pool).await?;
    let mut rows = audit_log::table
        .order(audit_log::id.desc())
        .limit(limit)
        .select(AuditEntry::as_select())
        .into_boxed();
    if let Some(referral_id) = query.referral_id {
        rows = rows.filter(audit_log::referral_id.eq(referral_id));
    }
    if let Some(before) = query.before {
        rows = rows.filter(audit_log::id.lt(before));
    }
    Ok(web::Json(AuditPage {
        items: rows.load(&mut conn).await.map_err(db_error)?,
    }))
}
