//! The caller's in-app inbox, newest first.

use crate::schema::notifications;
use actix_web::web;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use spotter_auth::Caller;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::ApiResult;
use spotter_platform::pagination::{Page, PageParams};
use spotter_platform::problem::Problem;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: Uuid,
    pub kind: String,
    /// Never health detail: "Appointment booked for your client".
    pub title: String,
    pub body: String,
    /// Ids (`referral_id`, `appointment_id` …) the app fetches details with.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "notifications",
    params(PageParams),
    responses(
        (status = 200, description = "The caller's notifications, newest first", body = Page<Notification>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    caller: Caller,
    pool: web::Data<Pool>,
    params: web::Query<PageParams>,
) -> ApiResult<web::Json<Page<Notification>>> {
    let (limit, cursor) = params.parse()?;
    let mut conn = checkout(&pool).await?;
    let mut query = notifications::table
        .filter(notifications::recipient_id.eq(caller.user_id))
        .order(notifications::id.desc())
        .limit(limit + 1)
        .select(Notification::as_select())
        .into_boxed();
    if let Some(after) = cursor {
        query = query.filter(notifications::id.lt(after));
    }
    let rows = query.load(&mut conn).await.map_err(db_error)?;
    Ok(web::Json(Page::from_rows(rows, limit, |n| n.id)))
}
