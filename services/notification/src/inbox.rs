//! The caller's in-app inbox: `GET /v1/notifications`, the unread count, and
//! `POST /v1/notifications/{id}/read`. Clinic admins also see their clinic's.

use crate::notices::NoticeKind;
use crate::schema::notifications;
use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable};
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use spotter_auth::{Caller, Role};
use spotter_db::db_error;
use spotter_db::{Pool, checkout};
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::pagination::{Page, PageParams};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiError, ApiResult};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: Uuid,
    #[diesel(deserialize_as = String)]
    pub kind: NoticeKind,
    /// Never health detail: "Appointment booked for your client".
    pub title: String,
    pub body: String,
    /// Ids (`referral_id`, `appointment_id` …) the app fetches details with.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
    /// Set for notices to every admin of a clinic.
    pub clinic_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    /// Position in the live stream (its event id).
    pub seq: i64,
}

pub type Visible = Box<dyn BoxableExpression<notifications::table, Pg, SqlType = Nullable<Bool>>>;

/// Rows the caller may see: their own, and their clinic's for clinic admins.
pub fn visible_to(caller: &Caller) -> Visible {
    let mut sides = visible_sides(caller).into_iter();
    let own = sides
        .next()
        .unwrap_or_else(|| Box::new(diesel::dsl::sql("false")));
    sides.fold(own, |all, side| Box::new(all.or(side)))
}

/// [`visible_to`] as its separate sides (their own; their clinic's), each
/// read in `seq` order through its own `(…, seq)` index. An OR of the two
/// cannot walk either index in order: reading "the next 100 after a
/// position" would read and sort everything after it.
pub fn visible_sides(caller: &Caller) -> Vec<Visible> {
    let own: Visible = Box::new(notifications::recipient_id.eq(caller.user_id).nullable());
    match (caller.role, caller.clinic_id) {
        (Role::ClinicAdmin, Some(clinic)) => {
            vec![own, Box::new(notifications::clinic_id.eq(clinic))]
        }
        _ => vec![own],
    }
}

/// [`visible_to`] for one notification in memory (the live streams' hub).
pub fn can_see(caller: &Caller, recipient: Option<Uuid>, clinic: Option<Uuid>) -> bool {
    recipient == Some(caller.user_id)
        || (caller.role == Role::ClinicAdmin && clinic.is_some() && clinic == caller.clinic_id)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct InboxQuery {
    /// Only notifications not yet read.
    #[serde(default)]
    pub unread_only: bool,
    /// Only notifications created or read since (RFC 3339): the app's delta sync.
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
    path = "/v1/notifications",
    tag = "notifications",
    params(InboxQuery),
    responses(
        (status = 200, description = "The caller's notifications, newest first", body = Page<Notification>),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
        AuthProblems,
    ),
    security(("bearer" = []))
)]
pub async fn list(
    caller: Caller,
    pool: web::Data<Pool>,
    query: web::Query<InboxQuery>,
) -> ApiResult<web::Json<Page<Notification>>> {
    let query = query.into_inner();
    let (limit, before) = PageParams {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let mut conn = checkout(&pool).await?;
    let mut rows = notifications::table
        .filter(visible_to(&caller))
        .order(notifications::id.desc())
        .limit(limit + 1)
        .select(Notification::as_select())
        .into_boxed();
    if query.unread_only {
        rows = rows.filter(notifications::read_at.is_null());
    }
    if let Some(since) = query.updated_since {
        rows = rows.filter(notifications::updated_at.gt(since));
    }
    if let Some(before) = before {
        rows = rows.filter(notifications::id.lt(before));
    }
    let found = rows.load(&mut conn).await.map_err(db_error)?;
    Ok(web::Json(Page::from_rows(found, limit, |n| n.id)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

#[utoipa::path(
    get,
    path = "/v1/notifications/unread-count",
    tag = "notifications",
    responses((status = 200, description = "How many are unread (the app's badge)", body = UnreadCount), AuthProblems),
    security(("bearer" = []))
)]
pub async fn unread_count(
    caller: Caller,
    pool: web::Data<Pool>,
) -> ApiResult<web::Json<UnreadCount>> {
    let mut conn = checkout(&pool).await?;
    let unread = notifications::table
        .filter(visible_to(&caller))
        .filter(notifications::read_at.is_null())
        .count()
        .get_result(&mut conn)
        .await
        .map_err(db_error)?;
    Ok(web::Json(UnreadCount { unread }))
}

#[utoipa::path(
    post,
    path = "/v1/notifications/{notification_id}/read",
    tag = "notifications",
    params(("notification_id" = Uuid, Path, description = "The notification")),
    responses((status = 200, description = "Read (reading again changes nothing)", body = Notification), AuthProblems, NotFoundProblem),
    security(("bearer" = []))
)]
pub async fn mark_read(
    caller: Caller,
    pool: web::Data<Pool>,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<Notification>> {
    let id = path.into_inner();
    let mut conn = checkout(&pool).await?;
    let now = Utc::now();
    let updated: Option<Notification> = diesel::update(
        notifications::table
            .filter(notifications::id.eq(id))
            .filter(notifications::read_at.is_null())
            .filter(visible_to(&caller)),
    )
    .set((
        notifications::read_at.eq(now),
        notifications::updated_at.eq(now),
    ))
    .returning(Notification::as_returning())
    .get_result(&mut conn)
    .await
    .optional()
    .map_err(db_error)?;
    if let Some(read) = updated {
        return Ok(web::Json(read));
    }
    // Already read (idempotent), or not the caller's to see (404).
    let existing = notifications::table
        .filter(notifications::id.eq(id))
        .filter(visible_to(&caller))
        .select(Notification::as_select())
        .first(&mut conn)
        .await
        .optional()
        .map_err(db_error)?;
    existing.map(web::Json).ok_or(ApiError::NotFound)
}
