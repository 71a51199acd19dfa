//! Turns deliveries from a parking queue into `dead_letters` rows.
//!
//! Messages reach a parking queue two ways: we park them (poison, permanent
//! failure, out of attempts: with a reason and a parking id), or the broker
//! dead-letters them past the delivery limit (a consumer that never managed to
//! settle them). Either way the row is committed before the ack.

use crate::broker::pause;
use crate::dead_letters::{self, Parked};
use crate::delivery::{
    ATTEMPT_HEADER, PARK_REASON_HEADER, PARKED_ID_HEADER, ROUTING_KEY_HEADER, ack_or_requeue,
    header_str,
};
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable};
use spotter_db::Pool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub(crate) async fn record(
    pool: &Pool,
    delivery: &Delivery,
    queue: &str,
    shutdown: &CancellationToken,
) {
    let parked = describe(delivery, queue);
    let stored = match pool.get().await {
        Ok(mut conn) => dead_letters::record(&mut conn, &parked)
            .await
            .map_err(anyhow::Error::from),
        Err(err) => Err(anyhow::Error::from(err)),
    };
    if let Err(err) = &stored {
        tracing::warn!(error = %err, "could not record a parked message; it stays parked");
        pause(shutdown, Duration::from_secs(1)).await;
    }
    let settled = ack_or_requeue(delivery, stored.is_ok()).await;
    if let Err(err) = settled {
        tracing::warn!(error = %err, "could not settle a parked message");
    }
}

fn describe(delivery: &Delivery, queue: &str) -> Parked {
    let properties = &delivery.properties;
    let message_id = properties
        .message_id()
        .as_ref()
        .and_then(|id| Uuid::parse_str(id.as_str()).ok());
    let headers = properties.headers().clone().unwrap_or_default();
    let parking_key = header_str(delivery, PARKED_ID_HEADER).unwrap_or_else(|| {
        // Broker dead-lettered: the message id and how often it has died.
        let id = message_id.map_or_else(|| "no-id".to_owned(), |id| id.to_string());
        format!("{id}:x-death:{}", death_count(&headers))
    });
    let reason = header_str(delivery, PARK_REASON_HEADER).unwrap_or_else(|| {
        "the broker dead-lettered it after the delivery limit: a consumer kept failing to settle it".to_owned()
    });
    let attempts = match headers.inner().get(ATTEMPT_HEADER) {
        Some(AMQPValue::LongUInt(n)) => i32::try_from(*n).unwrap_or(i32::MAX),
        _ => 1,
    };
    Parked {
        id: Uuid::now_v7(),
        parking_key,
        queue: queue.to_owned(),
        message_id,
        message_type: properties
            .kind()
            .as_ref()
            .map(|t| t.to_string())
            .unwrap_or_default(),
        routing_key: header_str(delivery, ROUTING_KEY_HEADER)
            .unwrap_or_else(|| delivery.routing_key.to_string()),
        correlation_id: properties.correlation_id().as_ref().map(|c| c.to_string()),
        payload: delivery.data.clone(),
        traceparent: header_str(delivery, "traceparent"),
        reason,
        attempts,
    }
}

/// The `count` of the first `x-death` entry the broker adds when dead-lettering.
fn death_count(headers: &FieldTable) -> i64 {
    let Some(AMQPValue::FieldArray(deaths)) = headers.inner().get("x-death") else {
        return 0;
    };
    match deaths.as_slice().first() {
        Some(AMQPValue::FieldTable(death)) => match death.inner().get("count") {
            Some(AMQPValue::LongLongInt(n)) => *n,
            Some(AMQPValue::LongInt(n)) => i64::from(*n),
            _ => 0,
        },
        _ => 0,
    }
}
