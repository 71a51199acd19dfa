//! A clinic's webhook endpoints as stored, and the messages planned for
//! them when an event concerns the clinic.

use super::events::{self, ClinicEvent, TEST, WebhookType};
use crate::schema::{webhook_endpoints, webhook_messages};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::json;
use spotter_db::prepared;
use spotter_messaging::{HandlerError, Incoming};
use utoipa::ToSchema;
use uuid::Uuid;

/// Endpoints one clinic may have: each event is one message per endpoint.
pub const MAX_PER_CLINIC: i64 = 20;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint as its clinic's admins see it; the secret is never shown
/// again after it is made.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    pub id: Uuid,
    pub clinic_id: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<WebhookType>,
    pub enabled: bool,
    /// `by_admin`, or `failing` when Spotter turned it off after a day of
    /// failed deliveries.
    pub disabled_reason: Option<String>,
    /// Deliveries have failed since then (none while they succeed).
    pub failing_since: Option<DateTime<Utc>>,
    /// After a rotation: the previous secret still signs until then.
    pub previous_secret_valid_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        let now = Utc::now();
        Self {
            id: e.id,
            clinic_id: e.clinic_id,
            url: e.url,
            description: e.description,
            event_types: e
                .event_types
                .iter()
                .filter_map(|t| t.parse().ok())
                .collect(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since,
            previous_secret_valid_until: e.previous_secret_until.filter(|until| *until > now),
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// The clinic's endpoint `id`, if it is the clinic's.
pub async fn find(
    conn: &mut AsyncPgConnection,
    clinic: Uuid,
    id: Uuid,
) -> QueryResult<Option<Endpoint>> {
    webhook_endpoints::table
        .find(id)
        .filter(webhook_endpoints::clinic_id.eq(clinic))
        .select(Endpoint::as_select())
        .first(conn)
        .await
        .optional()
}

/// The same, locked until the transaction ends.
pub async fn find_for_update(
    conn: &mut AsyncPgConnection,
    clinic: Uuid,
    id: Uuid,
) -> QueryResult<Option<Endpoint>> {
    webhook_endpoints::table
        .find(id)
        .filter(webhook_endpoints::clinic_id.eq(clinic))
        .select(Endpoint::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// One message per enabled endpoint of each clinic the event concerns that
/// subscribed to its type, in the consumer's transaction (the inbox makes
/// a redelivered event plan nothing twice).
///
/// An event whose clinic cannot be read still reaches the inbox: its
/// webhooks are skipped and logged, never the reason the event fails.
pub async fn plan(conn: &mut AsyncPgConnection, incoming: &Incoming) -> Result<(), HandlerError> {
    match events::of(incoming) {
        Ok(Some(event)) => plan_event(conn, &event).await?,
        Ok(None) => {}
        Err(err) => tracing::warn!(
            message_id = %incoming.message_id,
            message_type = %incoming.message_type,
            error = %err,
            "no webhook for an event whose clinic could not be read"
        ),
    }
    Ok(())
}

/// The enabled endpoints of `event`'s clinics that take its type. Its
/// values are read as `(SELECT $n)`, which the planner cannot look into, so
/// the database keeps one plan for it: seen as values (an array of one
/// clinic), a plan made afresh looked cheaper every time, and it was planned
/// anew for every event (docs/architecture.md, "What one flow costs").
pub async fn subscribed(
    conn: &mut AsyncPgConnection,
    event: &ClinicEvent,
) -> QueryResult<Vec<Uuid>> {
    #[derive(QueryableByName)]
    struct Endpoint {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let found: Vec<Endpoint> = prepared(
        diesel::sql_query(
            "SELECT id FROM webhook_endpoints \
              WHERE clinic_id = ANY((SELECT $1)::uuid[]) AND enabled \
                AND event_types @> (SELECT $2)::text[]",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(&event.clinics)
        .bind::<Array<Text>, _>(vec![event.event_type.as_str()]),
    )
    .load(conn)
    .await?;
    Ok(found.into_iter().map(|e| e.id).collect())
}

pub async fn plan_event(conn: &mut AsyncPgConnection, event: &ClinicEvent) -> QueryResult<()> {
    if event.clinics.is_empty() {
        return Ok(());
    }
    let endpoints = subscribed(conn, event).await?;
    let payload = event.payload();
    let rows: Vec<_> = endpoints
        .iter()
        .map(|endpoint| {
            (
                webhook_messages::id.eq(Uuid::now_v7()),
                webhook_messages::endpoint_id.eq(*endpoint),
                webhook_messages::event_type.eq(event.event_type.as_str()),
                webhook_messages::payload.eq(&payload),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(webhook_messages::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The test-send button: a `webhook.test` message to this endpoint only.
pub async fn plan_test(conn: &mut AsyncPgConnection, endpoint: &Endpoint) -> QueryResult<Uuid> {
    let id = Uuid::now_v7();
    let payload = json!({
        "type": TEST,
        "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": { "endpoint_id": endpoint.id, "clinic_id": endpoint.clinic_id },
    });
    diesel::insert_into(webhook_messages::table)
        .values((
            webhook_messages::id.eq(id),
            webhook_messages::endpoint_id.eq(endpoint.id),
            webhook_messages::event_type.eq(TEST),
            webhook_messages::payload.eq(payload),
        ))
        .execute(conn)
        .await?;
    Ok(id)
}

/// The `webhook-id` of every attempt of message `id`.
pub fn webhook_id(id: Uuid) -> String {
    format!("msg_{}", id.simple())
}
