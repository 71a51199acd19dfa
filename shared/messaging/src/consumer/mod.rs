//! Idempotent consumers.
//!
//! For each delivery: open a transaction, skip it if its message id is in the
//! inbox, else run the handler and record the id — both commit together — and
//! only then ack. A crash before the ack redelivers a message whose id is
//! already recorded, so the effect happens once. Handlers say what kind of
//! failure they hit: `Transient` goes to a delay queue and comes back
//! (1 s, 10 s, 60 s), `Permanent` and undecodable messages are parked at once.

use crate::broker::{BROKER_TIMEOUT, Broker, pause};
pub use crate::delivery::{HandlerError, Incoming};
use crate::delivery::{ack_or_requeue, header_str, read};
use crate::metrics::{Consumed, ConsumerMetrics};
use crate::topology;
use crate::{parked, trace};

mod batch;
mod order;
pub use order::in_order_per_correlation;
mod retry;

use diesel_async::AsyncPgConnection;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use retry::{Outcome, forward, next_stop};
use spotter_db::Pool;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub type Handler = Arc<
    dyn for<'c> Fn(
            &'c mut AsyncPgConnection,
            &'c Incoming,
        ) -> BoxFuture<'c, Result<(), HandlerError>>
        + Send
        + Sync,
>;

/// Decides when a delivery may start. It is called as each delivery arrives,
/// in arrival order, with the delivery's correlation id (its referral); the
/// future it returns is awaited before the delivery's transaction begins,
/// and what that yields is held until the delivery is settled. Booking's
/// lanes use it so routine requests wait while urgent ones are being booked
/// in the same process (`services/booking/src/lanes.rs`); `in_order_per_correlation`
/// so one referral's events wait for each other.
pub type Admission = Arc<dyn Fn(Option<&str>) -> BoxFuture<'static, Admitted> + Send + Sync>;

/// Held while an admitted delivery runs; its `Drop` can tell the others.
pub type Admitted = Box<dyn Send>;

#[derive(Clone)]
pub struct ConsumerSpec {
    /// `<service>.<purpose>`, e.g. `referral.booking-events`; the queue name
    /// (with the configured prefix) and the inbox's consumer key.
    pub name: String,
    pub routing_keys: Vec<String>,
    pub handler: Handler,
    /// Deliveries in flight at once (the prefetch; with `batch` 1 also the
    /// handlers running at once).
    pub concurrency: u16,
    /// Up to this many deliveries that are ready together are handled in one
    /// transaction (`batch.rs`), by `concurrency / batch` workers (at least
    /// one). 1: each delivery alone, `concurrency` at a time.
    pub batch: u16,
    /// `None`: every delivery starts as soon as it arrives.
    pub admission: Option<Admission>,
}

pub struct Consumer {
    pool: Pool,
    broker: Broker,
    spec: ConsumerSpec,
    metrics: Option<ConsumerMetrics>,
}

impl Consumer {
    pub fn new(pool: Pool, broker: Broker, spec: ConsumerSpec) -> Self {
        Self {
            pool,
            broker,
            spec,
            metrics: None,
        }
    }

    /// Counts how this consumer's deliveries end (`/metrics`).
    pub fn with_metrics(mut self, metrics: ConsumerMetrics) -> Self {
        metrics.start(&self.spec.name);
        self.metrics = Some(metrics);
        self
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
        let batch = usize::from(self.spec.batch.max(1));
        let deliveries = deliveries.take_until(shutdown.cancelled());
        let work: BoxFuture<'_, ()> = if batch > 1 {
            let workers = (concurrency / batch).max(1);
            let (publisher, queue) = (&publisher, &queue);
            Box::pin(
                deliveries
                    .ready_chunks(batch)
                    // Admissions asked here, in arrival order.
                    .map(|ready| {
                        ready
                            .into_iter()
                            .map(|delivery| {
                                let admission = self.admission(&delivery);
                                (delivery, admission)
                            })
                            .collect::<Vec<_>>()
                    })
                    .for_each_concurrent(workers, move |ready| {
                        self.process_ready(ready, publisher, queue)
                    }),
            )
        } else {
            Box::pin(deliveries.for_each_concurrent(concurrency, |delivery| {
                let publisher = &publisher;
                let queue = &queue;
                // Asked here, in arrival order, not when the future first runs.
                let admission = self.admission(&delivery);
                async move {
                    // Held until the delivery is settled.
                    let _admitted = match admission {
                        Some(admission) => Some(admission.await),
                        None => None,
                    };
                    match delivery {
                        Ok(delivery) => self.process(delivery, publisher, queue).await,
                        Err(err) => tracing::warn!(error = %err, "delivery error"),
                    }
                }
            }))
        };
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

    /// The delivery's admission (`ConsumerSpec::admission`), asked now.
    fn admission(
        &self,
        delivery: &Result<Delivery, lapin::Error>,
    ) -> Option<BoxFuture<'static, Admitted>> {
        match (&self.spec.admission, delivery) {
            (Some(admit), Ok(delivery)) => {
                let correlation = delivery.properties.correlation_id().as_ref();
                Some(admit(correlation.map(|id| id.as_str())))
            }
            _ => None,
        }
    }

    #[tracing::instrument(skip_all, fields(consumer = %self.spec.name, message_id, correlation_id))]
    async fn process(&self, delivery: Delivery, publisher: &Channel, queue: &str) {
        let incoming = match read(&delivery) {
            Ok(incoming) => incoming,
            Err(reason) => {
                self.settle(&delivery, Outcome::Park(reason), publisher, queue, 1)
                    .await;
                return;
            }
        };
        self.count_redelivery(&delivery);
        let span = tracing::Span::current();
        span.record("message_id", tracing::field::display(incoming.message_id));
        if let Some(correlation) = &incoming.correlation_id {
            span.record("correlation_id", correlation.as_str());
        }
        let traceparent = header_str(&delivery, "traceparent");
        let outcome =
            trace::in_trace(traceparent.as_deref(), self.handle(&delivery, &incoming)).await;
        self.settle(&delivery, outcome, publisher, queue, incoming.attempt)
            .await;
    }

    /// One delivery in its own transaction: a batch of one.
    async fn handle(&self, delivery: &Delivery, incoming: &Incoming) -> Outcome {
        match self
            .handle_in_one_transaction(&[(delivery, incoming)])
            .await
        {
            Ok(seen_before) => done_or_duplicate(!seen_before.is_empty()),
            Err(HandlerError::Transient(err)) => {
                tracing::warn!(attempt = incoming.attempt, error = %format!("{err:#}"), "transient failure; will retry");
                Outcome::Retry(format!("{err:#}"))
            }
            Err(HandlerError::Permanent(err)) => Outcome::Park(format!("{err:#}")),
        }
    }

    /// Counts a delivery the broker had delivered before (`/metrics`).
    fn count_redelivery(&self, delivery: &Delivery) {
        if delivery.redelivered
            && let Some(metrics) = &self.metrics
        {
            metrics.redelivered(&self.spec.name);
        }
    }

    /// Acks only once the message is safe elsewhere: handled, or republished
    /// (with a confirm) to a retry or parking queue. If that republish fails the
    /// delivery is requeued, and the broker's delivery limit still bounds it.
    async fn settle(
        &self,
        delivery: &Delivery,
        outcome: Outcome,
        publisher: &Channel,
        queue: &str,
        attempt: u32,
    ) {
        let duplicate = matches!(outcome, Outcome::Duplicate);
        let stop = next_stop(outcome, queue, attempt);
        let ended = match &stop {
            None if duplicate => Consumed::Duplicate,
            None => Consumed::Handled,
            Some(stop) if stop.park_reason.is_some() => Consumed::Parked,
            Some(_) => Consumed::Retried,
        };
        let forwarded = match stop {
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
        // A delivery that could not be forwarded is requeued, and counted
        // when it is settled again.
        if forwarded && let Some(metrics) = &self.metrics {
            metrics.settled(&self.spec.name, ended);
        }
        let settled = ack_or_requeue(delivery, forwarded).await;
        if let Err(err) = settled {
            // The channel is gone; the broker redelivers and the inbox absorbs it.
            tracing::warn!(error = %err, "could not settle a delivery");
        }
    }
}

/// A delivery whose transaction committed: done, or skipped because its
/// effect had committed before (`seen_before`).
fn done_or_duplicate(seen_before: bool) -> Outcome {
    if seen_before {
        tracing::info!("duplicate delivery skipped");
        Outcome::Duplicate
    } else {
        Outcome::Done
    }
}
