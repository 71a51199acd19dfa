//! Parked messages in the service's own database: recorded from the parking
//! queues, listed and replayed through the admin API.
//!
//! A replay goes through the outbox, straight to the consumer's work queue (not
//! the events exchange, which would deliver it to every other consumer of that
//! event too), under the original message id: if the consumer had in fact
//! handled it, its inbox skips it.

use crate::schema::{dead_letters, outbox};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// A message as it arrived in a parking queue.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = dead_letters)]
pub struct Parked {
    pub id: Uuid,
    /// Unique per parking, so a redelivered parked message is recorded once.
    pub parking_key: String,
    pub queue: String,
    pub message_id: Option<Uuid>,
    pub message_type: String,
    pub routing_key: String,
    pub correlation_id: Option<String>,
    pub payload: Vec<u8>,
    pub traceparent: Option<String>,
    pub reason: String,
    pub attempts: i32,
}

/// A parked message as the admin API shows it (the payload stays in the table).
#[derive(Debug, Clone, Queryable, Selectable, serde::Serialize, utoipa::ToSchema)]
#[diesel(table_name = dead_letters)]
pub struct DeadLetter {
    pub id: Uuid,
    /// The consumer's work queue, where a replay sends it.
    pub queue: String,
    pub message_id: Option<Uuid>,
    pub message_type: String,
    pub routing_key: String,
    /// The referral the message belongs to.
    pub correlation_id: Option<String>,
    pub reason: String,
    pub attempts: i32,
    pub parked_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
}

pub async fn record(conn: &mut AsyncPgConnection, parked: &Parked) -> QueryResult<()> {
    diesel::insert_into(dead_letters::table)
        .values(parked)
        .on_conflict(dead_letters::parking_key)
        .do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

/// Newest first; `before` is the last id of the previous page.
pub async fn list(
    conn: &mut AsyncPgConnection,
    limit: i64,
    before: Option<Uuid>,
) -> QueryResult<Vec<DeadLetter>> {
    let mut query = dead_letters::table
        .order(dead_letters::id.desc())
        .limit(limit)
        .select(DeadLetter::as_select())
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(dead_letters::id.lt(before));
    }
    query.load(conn).await
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no such dead letter")]
    NotFound,
    #[error("already replayed at {0}")]
    AlreadyReplayed(DateTime<Utc>),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Sends a parked message back to its consumer, once.
pub async fn replay(conn: &mut AsyncPgConnection, id: Uuid) -> Result<DeadLetter, ReplayError> {
    conn.transaction::<DeadLetter, ReplayError, _>(async |conn| {
        let row: Option<(DeadLetter, Vec<u8>, Option<String>)> = dead_letters::table
            .find(id)
            .select((
                DeadLetter::as_select(),
                dead_letters::payload,
                dead_letters::traceparent,
            ))
            .for_update()
            .first(conn)
            .await
            .optional()?;
        let (letter, payload, traceparent) = row.ok_or(ReplayError::NotFound)?;
        if let Some(at) = letter.replayed_at {
            return Err(ReplayError::AlreadyReplayed(at));
        }
        diesel::insert_into(outbox::table)
            .values((
                outbox::message_id.eq(letter.message_id.unwrap_or_else(Uuid::now_v7)),
                outbox::exchange.eq(Some("")),
                outbox::routing_key.eq(&letter.queue),
                outbox::message_type.eq(&letter.message_type),
                outbox::correlation_id.eq(letter
                    .correlation_id
                    .clone()
                    .unwrap_or_else(|| letter.id.to_string())),
                outbox::payload.eq(payload),
                outbox::traceparent.eq(traceparent),
            ))
            .execute(conn)
            .await?;
        let replayed = diesel::update(dead_letters::table.find(id))
            .set(dead_letters::replayed_at.eq(diesel::dsl::now))
            .returning(DeadLetter::as_returning())
            .get_result(conn)
            .await?;
        Ok(replayed)
    })
    .await
}
