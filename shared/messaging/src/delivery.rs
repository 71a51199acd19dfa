//! A delivery as a handler sees it (`Incoming`) and what a handler can say
//! of it (`HandlerError`), and our AMQP headers: what the consumer reads and
//! writes on a message's way through retries and parking, and what the
//! parking recorder reads back.

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::AMQPValue;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Might work later (database busy, a dependency down): retried with back-off.
    #[error("transient: {0}")]
    Transient(anyhow::Error),
    /// Will never work (invalid content, impossible state): parked for an operator.
    #[error("permanent: {0}")]
    Permanent(anyhow::Error),
}

impl HandlerError {
    /// A message no retry can fix, e.g. an event this consumer cannot take.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent(anyhow::anyhow!(message.into()))
    }
}

/// A field no retry can fix: park the message.
impl From<spotter_contracts::convert::Malformed> for HandlerError {
    fn from(err: spotter_contracts::convert::Malformed) -> Self {
        Self::Permanent(err.into())
    }
}

impl From<diesel::result::Error> for HandlerError {
    fn from(err: diesel::result::Error) -> Self {
        Self::Transient(err.into())
    }
}

/// What a handler sees of a message.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub message_id: Uuid,
    /// The protobuf full name: what handlers dispatch on (it survives retries
    /// and replays, which travel under a queue's name as routing key).
    pub message_type: String,
    pub correlation_id: Option<String>,
    pub payload: Vec<u8>,
    /// 1 on the first delivery, counting our own retries.
    pub attempt: u32,
    /// When the event was written to its producer's outbox (the AMQP
    /// `timestamp`, kept through retries): how long it has been on its way.
    pub enqueued_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Incoming {
    /// Decodes the protobuf payload; a body that doesn't decode is permanent.
    pub fn decode<E: prost::Message + Default>(&self) -> Result<E, HandlerError> {
        E::decode(self.payload.as_slice()).map_err(|e| {
            HandlerError::Permanent(anyhow::anyhow!("undecodable {}: {e}", self.message_type))
        })
    }
}

pub(crate) const ATTEMPT_HEADER: &str = "x-spotter-attempt";
pub(crate) const PARK_REASON_HEADER: &str = "x-spotter-park-reason";
pub(crate) const ROUTING_KEY_HEADER: &str = "x-spotter-routing-key";
pub(crate) const PARKED_ID_HEADER: &str = "x-spotter-parked-id";

pub(crate) fn read(delivery: &Delivery) -> Result<Incoming, String> {
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .and_then(|id| Uuid::parse_str(id.as_str()).ok())
        .ok_or_else(|| "missing or invalid message_id".to_owned())?;
    let attempt = match delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(ATTEMPT_HEADER))
    {
        Some(AMQPValue::LongUInt(n)) => *n,
        _ => 1,
    };
    Ok(Incoming {
        message_id,
        message_type: delivery
            .properties
            .kind()
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        correlation_id: delivery
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.to_string()),
        payload: delivery.data.clone(),
        attempt,
        enqueued_at: (*delivery.properties.timestamp())
            .and_then(|seconds| i64::try_from(seconds).ok())
            .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0)),
    })
}

pub(crate) fn header_str(delivery: &Delivery, name: &str) -> Option<String> {
    match delivery.properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(value) => Some(value.to_string()),
        _ => None,
    }
}

/// Acks a delivery whose outcome is safely stored or forwarded; otherwise
/// gives it back to the broker, which redelivers it (the inbox absorbs a
/// repeat).
pub(crate) async fn ack_or_requeue(delivery: &Delivery, done: bool) -> lapin::Result<bool> {
    if done {
        delivery.ack(BasicAckOptions::default()).await
    } else {
        delivery
            .nack(BasicNackOptions {
                requeue: true,
                ..BasicNackOptions::default()
            })
            .await
    }
}
