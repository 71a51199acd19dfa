//! Idempotent consumers.
//!
//! For each delivery: open a transaction, skip it if its message id is in the
//! inbox, else run the handler and record the id — both commit together — and
//! only then ack. A crash before the ack redelivers a message whose id is
//! already recorded, so the effect happens once. Handlers say what kind of
//! failure they hit: `Transient` goes to a delay queue and comes back
//! (1 s, 10 s, 60 s), `Permanent` and undecodable messages are parked at once.

use crate::broker::{BROKER_TIMEOUT, Broker, confirmed, pause};
use crate::schema::inbox;
use crate::topology::{self, RETRY_DELAYS};
use crate::{parked, trace};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use spotter_db::Pool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
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

pub type Handler = Arc<
    dyn for<'c> Fn(
            &'c mut AsyncPgConnection,
            &'c Incoming,
        ) -> BoxFuture<'c, Result<(), HandlerError>>
        + Send
        + Sync,
>;

#[derive(Clone)]
pub struct ConsumerSpec {
    /// `<service>.<purpose>`, e.g. `referral.booking-events`; the queue name
    /// (with the configured prefix) and the inbox's consumer key.
    pub name: String,
    pub routing_keys: Vec<String>,
    pub handler: Handler,
    /// Deliveries in flight at once (prefetch and handler concurrency).
    pub concurrency: u16,
}

pub(crate) const ATTEMPT_HEADER: &str = "x-spotter-attempt";
pub(crate) const PARK_REASON_HEADER: &str = "x-spotter-park-reason";
pub(crate) const ROUTING_KEY_HEADER: &str = "x-spotter-routing-key";
pub(crate) const PARKED_ID_HEADER: &str = "x-spotter-parked-id";

pub struct Consumer {
    pool: Pool,
    broker: Broker,
    spec: ConsumerSpec,
}

enum Outcome {
    Done,
    Retry(String),
    Park(String),
}

impl Consumer {
    pub fn new(pool: Pool, broker: Broker, spec: ConsumerSpec) -> Self {
        Self { pool, broker, spec }
    }

    pub fn queue(&self) -> String {
        self.broker.settings().queue_name(&self.spec.name)
    }

    /// Consumes until `shutdown`, rebuilding channels and consumer after any
    /// broker failure (deliveries unacked then come back; the inbox absorbs them).
    pub async fn run(self, shutdown: CancellationToken) {
        while let Some(connection) = self.broker.connected(&shutdown).await {
            if let Err(err) = self.consume(&connection, &shutdown).await {
                tracing::warn!(error = %err, consumer = %self.spec.name, "consumer stopped; restarting");
                pause(&shutdown, Duration::from_millis(500)).await;
            }
        }
    }

    async fn consume(
        &self,
        connection: &lapin::Connection,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<()> {
        let queue = self.queue();
        let channel = tokio::time::timeout(BROKER_TIMEOUT, connection.create_channel()).await??;
        let keys: Vec<&str> = self.spec.routing_keys.iter().map(String::as_str).collect();
        tokio::time::timeout(
            BROKER_TIMEOUT,
            topology::declare_consumer_queues(
                &channel,
                &self.broker.settings().exchange,
                &queue,
                &keys,
            ),
        )
        .await??;
        // Per-consumer prefetch: quorum queues refuse global QoS.
        tokio::time::timeout(
            BROKER_TIMEOUT,
            channel.basic_qos(self.spec.concurrency, BasicQosOptions { global: false }),
        )
        .await??;
        let publisher = tokio::time::timeout(BROKER_TIMEOUT, connection.create_channel()).await??;
        tokio::time::timeout(
            BROKER_TIMEOUT,
            publisher.confirm_select(ConfirmSelectOptions::default()),
        )
        .await??;
        let deliveries = tokio::time::timeout(
            BROKER_TIMEOUT,
            channel.basic_consume(
                queue.as_str().into(),
                format!("{}-{}", self.spec.name, Uuid::new_v4().simple())
                    .as_str()
                    .into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            ),
        )
        .await??;
        let concurrency = usize::from(self.spec.concurrency.max(1));
        let work = deliveries
            .take_until(shutdown.cancelled())
            .for_each_concurrent(concurrency, |delivery| {
                let publisher = &publisher;
                let queue = &queue;
                async move {
                    match delivery {
                        Ok(delivery) => self.process(delivery, publisher, queue).await,
                        Err(err) => tracing::warn!(error = %err, "delivery error"),
                    }
                }
            });
        let parked = tokio::time::timeout(
            BROKER_TIMEOUT,
            channel.basic_consume(
                topology::parked_queue(&queue).as_str().into(),
                format!("{}-parked-{}", self.spec.name, Uuid::new_v4().simple())
                    .as_str()
                    .into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            ),
        )
        .await??;
        let queue = queue.as_str();
        let record_parked =
            parked
                .take_until(shutdown.cancelled())
                .for_each(|delivery| async move {
                    match delivery {
                        Ok(delivery) => {
                            parked::record(&self.pool, &delivery, queue, shutdown).await
                        }
                        Err(err) => tracing::warn!(error = %err, "delivery error"),
                    }
                });
        // Both streams share the channel: when one ends, the channel is gone.
        tokio::select! {
            () = work => {}
            () = record_parked => {}
        }
        if shutdown.is_cancelled() {
            return Ok(());
        }
        anyhow::bail!("the delivery stream ended")
    }

    #[tracing::instrument(skip_all, fields(consumer = %self.spec.name, message_id, correlation_id))]
    async fn process(&self, delivery: Delivery, publisher: &Channel, queue: &str) {
        let incoming = match read(&delivery) {
            Ok(incoming) => incoming,
            Err(reason) => {
                Self::settle(&delivery, Outcome::Park(reason), publisher, queue, 1).await;
                return;
            }
        };
        let span = tracing::Span::current();
        span.record("message_id", tracing::field::display(incoming.message_id));
        if let Some(correlation) = &incoming.correlation_id {
            span.record("correlation_id", correlation.as_str());
        }
        let traceparent = header_str(&delivery, "traceparent");
        let outcome = trace::in_trace(traceparent.as_deref(), self.handle(&incoming)).await;
        Self::settle(&delivery, outcome, publisher, queue, incoming.attempt).await;
    }

    async fn handle(&self, incoming: &Incoming) -> Outcome {
        let mut conn = match self.pool.get().await {
            Ok(conn) => conn,
            Err(err) => return Outcome::Retry(format!("no database connection: {err}")),
        };
        let consumer = self.spec.name.clone();
        let handler = self.spec.handler.clone();
        let result = conn
            .transaction::<bool, HandlerError, _>(async |conn| {
                let inserted = diesel::insert_into(inbox::table)
                    .values((
                        inbox::message_id.eq(incoming.message_id),
                        inbox::consumer.eq(&consumer),
                        inbox::message_type.eq(&incoming.message_type),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                if inserted == 0 {
                    return Ok(false); // seen before: its effect already committed
                }
                handler(conn, incoming).await?;
                Ok(true)
            })
            .await;
        match result {
            Ok(true) => Outcome::Done,
            Ok(false) => {
                tracing::info!("duplicate delivery skipped");
                Outcome::Done
            }
            Err(HandlerError::Transient(err)) => {
                tracing::warn!(attempt = incoming.attempt, error = %format!("{err:#}"), "transient failure; will retry");
                Outcome::Retry(format!("{err:#}"))
            }
            Err(HandlerError::Permanent(err)) => Outcome::Park(format!("{err:#}")),
        }
    }

    /// Acks only once the message is safe elsewhere: handled, or republished
    /// (with a confirm) to a retry or parking queue. If that republish fails the
    /// delivery is requeued, and the broker's delivery limit still bounds it.
    async fn settle(
        delivery: &Delivery,
        outcome: Outcome,
        publisher: &Channel,
        queue: &str,
        attempt: u32,
    ) {
        let forwarded = match next_stop(outcome, queue, attempt) {
            None => true,
            Some(stop) => {
                if let Some(reason) = &stop.park_reason {
                    tracing::error!(%reason, "message parked");
                } else {
                    tracing::debug!(attempt, queue = %stop.queue, "sent to its delay queue");
                }
                forward(publisher, delivery, &stop).await
            }
        };
        let settled = if forwarded {
            delivery.ack(BasicAckOptions::default()).await
        } else {
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
        };
        if let Err(err) = settled {
            // The channel is gone; the broker redelivers and the inbox absorbs it.
            tracing::warn!(error = %err, "could not settle a delivery");
        }
    }
}

/// Where a settled delivery goes next, when not simply acked.
#[derive(Debug, PartialEq, Eq)]
struct NextStop {
    queue: String,
    /// The attempt number the message carries onward.
    attempt: u32,
    /// Set when the message is parked: why, for the operator.
    park_reason: Option<String>,
}

/// Handled messages stop here; transient failures go to the delay queue of
/// their attempt until the steps run out, then park like permanent ones.
fn next_stop(outcome: Outcome, queue: &str, attempt: u32) -> Option<NextStop> {
    let park = |reason: String| NextStop {
        queue: topology::parked_queue(queue),
        attempt,
        park_reason: Some(reason),
    };
    match outcome {
        Outcome::Done => None,
        Outcome::Park(reason) => Some(park(reason)),
        Outcome::Retry(reason) => {
            let step = usize::try_from(attempt)
                .unwrap_or(usize::MAX)
                .saturating_sub(1);
            Some(if step < RETRY_DELAYS.len() {
                NextStop {
                    queue: topology::retry_queue(queue, step),
                    attempt: attempt + 1,
                    park_reason: None,
                }
            } else {
                park(format!("out of attempts after {attempt}: {reason}"))
            })
        }
    }
}

/// Republishes a delivery, unchanged but for our headers, straight to the
/// stop's queue (default exchange), waiting for the broker's confirm.
async fn forward(publisher: &Channel, delivery: &Delivery, stop: &NextStop) -> bool {
    let mut headers = delivery.properties.headers().clone().unwrap_or_default();
    headers.insert(ATTEMPT_HEADER.into(), AMQPValue::LongUInt(stop.attempt));
    // Retries come back through a delay queue under the work queue's name;
    // the first hop records the event's own routing key for the dead-letter list.
    if !headers.inner().contains_key(ROUTING_KEY_HEADER) {
        headers.insert(
            ROUTING_KEY_HEADER.into(),
            AMQPValue::LongString(delivery.routing_key.as_str().into()),
        );
    }
    if let Some(reason) = &stop.park_reason {
        let reason: String = reason.chars().take(1000).collect();
        headers.insert(
            PARK_REASON_HEADER.into(),
            AMQPValue::LongString(reason.as_str().into()),
        );
        // Names this parking, so recording it survives redelivery (see parked.rs).
        headers.insert(
            PARKED_ID_HEADER.into(),
            AMQPValue::LongString(Uuid::now_v7().to_string().into()),
        );
    }
    let properties: BasicProperties = delivery.properties.clone().with_headers(headers);
    let published = tokio::time::timeout(
        BROKER_TIMEOUT,
        publisher.basic_publish(
            "".into(),
            stop.queue.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &delivery.data,
            properties,
        ),
    )
    .await;
    match published {
        Ok(Ok(confirm)) => confirmed(confirm).await,
        _ => false,
    }
}

fn read(delivery: &Delivery) -> Result<Incoming, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_walk_the_delay_queues_then_park() {
        let stops: Vec<_> = (1..=4)
            .map(|attempt| next_stop(Outcome::Retry("db down".into()), "q", attempt).unwrap())
            .collect();
        assert_eq!(stops[0].queue, "q.retry.0");
        assert_eq!(stops[0].attempt, 2);
        assert_eq!(stops[1].queue, "q.retry.1");
        assert_eq!(stops[2].queue, "q.retry.2");
        assert_eq!(stops[2].park_reason, None);
        assert_eq!(stops[3].queue, "q.parked");
        assert_eq!(
            stops[3].park_reason.as_deref(),
            Some("out of attempts after 4: db down")
        );
    }

    #[test]
    fn permanent_failures_park_at_once_and_successes_stop() {
        let stop = next_stop(Outcome::Park("bad body".into()), "q", 1).unwrap();
        assert_eq!(stop.queue, "q.parked");
        assert_eq!(stop.park_reason.as_deref(), Some("bad body"));
        assert_eq!(next_stop(Outcome::Done, "q", 1), None);
    }
}
