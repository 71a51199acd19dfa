//! What the messaging layer tells `/metrics` (docs/architecture.md,
//! "Operations"): how each consumer's deliveries ended, how many came back
//! redelivered, and, sampled by [`Gauges::sample`], the outbox backlog,
//! parked messages and the broker connection. The alert rules in
//! deploy/observability/ are written against these names.

use crate::Broker;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double};
use diesel_async::RunQueryDsl;
use prometheus::core::Collector;
use prometheus::{Gauge, IntCounterVec, IntGauge, Opts};
use spotter_db::Pool;

/// How a consumed delivery ended (the `outcome` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumed {
    /// The handler's effect committed.
    Handled,
    /// The inbox had it: an earlier delivery's effect already committed.
    Duplicate,
    /// A transient failure: sent to its delay queue to come back.
    Retried,
    /// Undecodable, a permanent failure, or out of attempts.
    Parked,
}

impl Consumed {
    const ALL: [Consumed; 4] = [
        Consumed::Handled,
        Consumed::Duplicate,
        Consumed::Retried,
        Consumed::Parked,
    ];

    fn label(self) -> &'static str {
        match self {
            Consumed::Handled => "handled",
            Consumed::Duplicate => "duplicate",
            Consumed::Retried => "retried",
            Consumed::Parked => "parked",
        }
    }
}

/// Per-consumer counters, shared by every consumer of one service.
#[derive(Clone)]
pub struct ConsumerMetrics {
    consumed: IntCounterVec,
    redelivered: IntCounterVec,
}

impl ConsumerMetrics {
    /// `service` tells the services of the dev stack (one registry) apart.
    pub fn new(service: &str) -> anyhow::Result<Self> {
        Ok(Self {
            consumed: IntCounterVec::new(
                Opts::new(
                    "messages_consumed_total",
                    "Deliveries settled by this replica's consumers, by how they ended",
                )
                .const_label("service", service),
                &["consumer", "outcome"],
            )?,
            redelivered: IntCounterVec::new(
                Opts::new(
                    "messages_redelivered_total",
                    "Deliveries the broker flagged as redelivered (a consumer stopped or \
                     lost its channel before acking them)",
                )
                .const_label("service", service),
                &["consumer"],
            )?,
        })
    }

    /// Every series of `consumer` at zero, so that a rate over them exists
    /// (and alerts can be evaluated) before the first delivery.
    pub(crate) fn start(&self, consumer: &str) {
        for outcome in Consumed::ALL {
            self.consumed
                .with_label_values(&[consumer, outcome.label()]);
        }
        self.redelivered.with_label_values(&[consumer]);
    }

    pub(crate) fn settled(&self, consumer: &str, outcome: Consumed) {
        self.consumed
            .with_label_values(&[consumer, outcome.label()])
            .inc();
    }

    /// How many of `consumer`'s deliveries ended as `outcome` so far.
    pub fn count(&self, consumer: &str, outcome: Consumed) -> u64 {
        self.consumed
            .with_label_values(&[consumer, outcome.label()])
            .get()
    }

    pub(crate) fn redelivered(&self, consumer: &str) {
        self.redelivered.with_label_values(&[consumer]).inc();
    }

    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.consumed.clone()),
            Box::new(self.redelivered.clone()),
        ]
    }
}

/// The service's messaging state as gauges, refreshed by [`Gauges::sample`].
#[derive(Clone)]
pub struct Gauges {
    outbox_pending: IntGauge,
    outbox_oldest_age: Gauge,
    parked: IntGauge,
    broker_connected: IntGauge,
}

/// The most pending or parked rows one sample reads.
const SAMPLE_CAP: i64 = 10_000;

#[derive(QueryableByName)]
struct Backlog {
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = Double)]
    oldest_age: f64,
    #[diesel(sql_type = BigInt)]
    parked: i64,
}

impl Gauges {
    pub fn new(service: &str) -> anyhow::Result<Self> {
        let gauge = |name: &str, help: &str| {
            IntGauge::with_opts(Opts::new(name, help).const_label("service", service))
        };
        Ok(Self {
            outbox_pending: gauge(
                "outbox_pending",
                "Events committed to the outbox and not yet published (read up to 10,000)",
            )?,
            outbox_oldest_age: Gauge::with_opts(
                Opts::new(
                    "outbox_oldest_pending_age_seconds",
                    "How long the oldest unpublished outbox event has waited (0 when none)",
                )
                .const_label("service", service),
            )?,
            parked: gauge(
                "dead_letters_parked",
                "Parked messages not yet replayed, up to 10,000 (GET /admin/v1/dead-letters/{service})",
            )?,
            broker_connected: gauge(
                "broker_connected",
                "1 while this replica holds a live RabbitMQ connection",
            )?,
        })
    }

    /// Reads the outbox backlog and the parked messages (two index reads)
    /// and the broker connection's state into the gauges.
    pub async fn sample(&self, pool: &Pool, broker: &Broker) -> anyhow::Result<()> {
        self.broker_connected.set(i64::from(broker.is_connected()));
        let mut conn = pool.get().await?;
        // Both read at most SAMPLE_CAP entries of the partial indexes of what
        // waits (`outbox_pending`, `dead_letters_parked`), so a sample's cost
        // is bounded however large a backlog grows: past the cap the counts
        // read as the cap, and the age is the oldest of the rows read (taken
        // across referrals in index order, so close to the oldest of all,
        // and never more).
        let backlog: Backlog = diesel::sql_query(
            "SELECT count(*) AS pending,
                    coalesce(extract(epoch FROM now() - min(created_at))::float8, 0) AS oldest_age,
                    (SELECT count(*) FROM (SELECT 1 FROM dead_letters WHERE replayed_at IS NULL
                                           LIMIT $1) p) AS parked
             FROM (SELECT created_at FROM outbox WHERE published_at IS NULL LIMIT $1) head",
        )
        .bind::<BigInt, _>(SAMPLE_CAP)
        .get_result(&mut conn)
        .await?;
        self.outbox_pending.set(backlog.pending);
        self.outbox_oldest_age.set(backlog.oldest_age.max(0.0));
        self.parked.set(backlog.parked);
        Ok(())
    }

    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.outbox_pending.clone()),
            Box::new(self.outbox_oldest_age.clone()),
            Box::new(self.parked.clone()),
            Box::new(self.broker_connected.clone()),
        ]
    }
}
