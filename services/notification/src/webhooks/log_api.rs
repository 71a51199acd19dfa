//! The delivery log of one endpoint, and sending one message again.

use super::api::own;
use super::endpoints::{self, webhook_id};
use crate::schema::{webhook_attempts, webhook_messages};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use spotter_auth::ClinicAdmin;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::{AuthProblems, NotFoundProblem};
use spotter_platform::pagination::{Page, PageParams};
use spotter_platform::problem::Problem;
use spotter_platform::{ApiError, ApiResult};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// One attempt: when, what came back, how long it took. Never the body.
#[derive(Debug, Serialize, ToSchema, Queryable, Selectable)]
#[diesel(table_name = webhook_attempts)]
pub struct AttemptView {
    #[serde(skip)]
    pub message_id: Uuid,
    pub attempt: i32,
    pub attempted_at: DateTime<Utc>,
    /// None when no answer came (refused connection, timeout).
    pub http_status: Option<i32>,
    pub latency_ms: i32,
    /// `delivered`, `retry` or `gave_up`.
    pub outcome: String,
    /// What went wrong: the error, or the start of the answer's body.
    pub error: Option<String>,
    pub retry_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub message_id: Uuid,
    /// The `webhook-id` header, the same on every attempt.
    pub webhook_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (given up after a day).
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Oldest first.
    pub attempts: Vec<AttemptView>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_messages)]
struct MessageRow {
    id: Uuid,
    event_type: String,
    status: String,
    created_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LogQuery {
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}/deliveries",
    tag = "webhooks",
    params(
        ("clinic_id" = Uuid, Path, description = "The clinic"),
        ("webhook_id" = Uuid, Path, description = "The endpoint"),
        LogQuery,
    ),
    responses(
        (status = 200, description = "Messages to this endpoint, newest first, each with its attempts", body = Page<DeliveryView>),
        (status = 422, description = "Bad cursor or limit", body = Problem, content_type = "application/problem+json"),
        AuthProblems, NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn deliveries(
    admin: ClinicAdmin,
    pool: web::Data<Pool>,
    path: web::Path<(Uuid, Uuid)>,
    query: web::Query<LogQuery>,
) -> ApiResult<web::Json<Page<DeliveryView>>> {
    let (clinic, id) = path.into_inner();
    let clinic = own(&admin, clinic)?;
    let query = query.into_inner();
    let (limit, before) = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let mut conn = checkout(&pool).await?;
    endpoints::find(&mut conn, clinic, id)
        .await
        .map_err(db_error)?
        .ok_or(ApiError::NotFound)?;
    let mut rows = webhook_messages::table
        .filter(webhook_messages::endpoint_id.eq(id))
        .order(webhook_messages::id.desc())
        .limit(limit + 1)
        .select(MessageRow::as_select())
        .into_boxed();
    if let Some(before) = before {
        rows = rows.filter(webhook_messages::id.lt(before));
    }
    let messages: Vec<MessageRow> = rows.load(&mut conn).await.map_err(db_error)?;
    let ids: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
    let mut attempts: Vec<AttemptView> = webhook_attempts::table
        .filter(webhook_attempts::message_id.eq_any(&ids))
        .order((webhook_attempts::message_id, webhook_attempts::attempt))
        .select(AttemptView::as_select())
        .load(&mut conn)
        .await
        .map_err(db_error)?;
    let views = messages
        .into_iter()
        .map(|m| {
            let (mine, rest) = attempts.drain(..).partition(|a| a.message_id == m.id);
            attempts = rest;
            DeliveryView {
                message_id: m.id,
                webhook_id: webhook_id(m.id),
                event_type: m.event_type,
                next_attempt_at: (m.status == "pending").then_some(m.next_attempt_at),
                status: m.status,
                created_at: m.created_at,
                attempts: mine,
            }
        })
        .collect();
    Ok(web::Json(Page::from_rows(
        views,
        limit,
        |d: &DeliveryView| d.message_id,
    )))
}

#[utoipa::path(
    post,
    path = "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}/messages/{message_id}/redeliver",
    tag = "webhooks",
    params(
        ("clinic_id" = Uuid, Path, description = "The clinic"),
        ("webhook_id" = Uuid, Path, description = "The endpoint"),
        ("message_id" = Uuid, Path, description = "The message, from the delivery log"),
    ),
    responses(
        (status = 202, description = "Sent again now, under the same webhook-id"),
        (status = 409, description = "The endpoint is turned off, or the message is still on its way (pending)", body = Problem, content_type = "application/problem+json"),
        AuthProblems, NotFoundProblem,
    ),
    security(("bearer" = []))
)]
pub async fn redeliver(
    admin: ClinicAdmin,
    pool: web::Data<Pool>,
    path: web::Path<(Uuid, Uuid, Uuid)>,
) -> ApiResult<HttpResponse> {
    let (clinic, id, message) = path.into_inner();
    let clinic = own(&admin, clinic)?;
    let mut conn = checkout(&pool).await?;
    let endpoint = endpoints::find(&mut conn, clinic, id)
        .await
        .map_err(db_error)?
        .ok_or(ApiError::NotFound)?;
    if !endpoint.enabled {
        return Err(ApiError::Conflict(
            "the endpoint is turned off; turn it on first".into(),
        ));
    }
    // Only a finished message: one still pending may be mid-attempt, and
    // sending it now would race its own lease.
    let again = diesel::update(
        webhook_messages::table
            .find(message)
            .filter(webhook_messages::endpoint_id.eq(id))
            .filter(webhook_messages::status.ne("pending")),
    )
    .set((
        webhook_messages::status.eq("pending"),
        webhook_messages::next_attempt_at.eq(Utc::now()),
        webhook_messages::updated_at.eq(Utc::now()),
    ))
    .execute(&mut conn)
    .await
    .map_err(db_error)?;
    if again == 0 {
        let pending: bool = diesel::select(diesel::dsl::exists(
            webhook_messages::table
                .find(message)
                .filter(webhook_messages::endpoint_id.eq(id)),
        ))
        .get_result(&mut conn)
        .await
        .map_err(db_error)?;
        return Err(if pending {
            ApiError::Conflict("the message is still on its way; see its next attempt".into())
        } else {
            ApiError::NotFound
        });
    }
    super::delivery::wake(&mut conn).await.map_err(db_error)?;
    Ok(HttpResponse::Accepted().finish())
}
