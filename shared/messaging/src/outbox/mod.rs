//! The transactional outbox: `enqueue` inside the caller's transaction, the
//! relay (`relay.rs`) publishes after commit. A rolled-back transaction takes
//! its events with it; a committed one is published at least once.

mod relay;

pub use relay::{Relay, RelayConfig, mark_published};

use crate::schema::outbox;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

/// One event as it will travel: already encoded, addressed and correlated.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    pub routing_key: String,
    /// The protobuf full name; the AMQP `type` property.
    pub message_type: String,
    /// The referral the event belongs to.
    pub correlation_id: String,
    pub payload: Vec<u8>,
}

impl OutboundMessage {
    pub fn from_event<E: spotter_contracts::Event>(event: &E) -> Self {
        Self {
            routing_key: event.routing_key(),
            message_type: E::TYPE_NAME.to_owned(),
            correlation_id: event.referral_id().to_owned(),
            payload: event.encode_to_vec(),
        }
    }
}

/// Adds `event` to the outbox in the caller's transaction. Returns the
/// message id consumers will deduplicate by.
pub async fn enqueue<E: spotter_contracts::Event>(
    conn: &mut AsyncPgConnection,
    event: &E,
) -> diesel::QueryResult<Uuid> {
    enqueue_message(conn, OutboundMessage::from_event(event)).await
}

pub async fn enqueue_message(
    conn: &mut AsyncPgConnection,
    message: OutboundMessage,
) -> diesel::QueryResult<Uuid> {
    let message_id = Uuid::now_v7();
    diesel::insert_into(outbox::table)
        .values((
            outbox::message_id.eq(message_id),
            outbox::routing_key.eq(message.routing_key),
            outbox::message_type.eq(message.message_type),
            outbox::correlation_id.eq(message.correlation_id),
            outbox::payload.eq(message.payload),
            outbox::traceparent.eq(crate::trace::current_traceparent()),
        ))
        .execute(conn)
        .await?;
    Ok(message_id)
}
