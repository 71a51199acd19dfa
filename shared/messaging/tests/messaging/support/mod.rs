//! A consumer and outbox relays on a test's own database and broker names.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Binary, Integer, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::testing::TestDatabase;
use spotter_messaging::metrics::ConsumerMetrics;
use spotter_messaging::testing::{BrokerCleanup, ready_messages};
use spotter_messaging::topology::declare_consumer_queues;
use spotter_messaging::{
    Broker, Consumer, ConsumerSpec, Handler, HandlerError, Incoming, OutboundMessage, Relay,
    RelayConfig, enqueue_message, in_order_per_correlation,
};
use spotter_platform::settings::BrokerSettings;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const ROUTING_KEY: &str = "test.thing_happened.v1";
pub const CONSUMER: &str = "test.effects";

pub struct Harness {
    pub db: TestDatabase,
    pub pool: spotter_db::Pool,
    pub broker: Broker,
    pub settings: BrokerSettings,
    pub prefix: String,
    pub shutdown: CancellationToken,
    /// The consumer's counters (`/metrics` in a service).
    pub metrics: ConsumerMetrics,
    _cleanup: BrokerCleanup,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Records every handled message in `effects`.
pub fn recording_handler() -> Handler {
    Arc::new(|conn, incoming| Box::pin(record_effect(conn, incoming)))
}

pub async fn record_effect(
    conn: &mut AsyncPgConnection,
    incoming: &Incoming,
) -> Result<(), HandlerError> {
    diesel::sql_query("INSERT INTO effects (message_id, payload, attempt) VALUES ($1, $2, $3)")
        .bind::<SqlUuid, _>(incoming.message_id)
        .bind::<Binary, _>(&incoming.payload)
        .bind::<Integer, _>(i32::try_from(incoming.attempt).unwrap())
        .execute(conn)
        .await?;
    Ok(())
}

pub struct Options {
    pub handler: Handler,
    pub relays: usize,
    /// Extra queues bound to the routing key (a tap that counts publishes).
    pub taps: Vec<&'static str>,
    /// Whether the consumer runs, and with how many deliveries in flight.
    pub consume: bool,
    pub concurrency: u16,
    /// Deliveries ready together handled in one transaction (`ConsumerSpec`).
    pub batch: u16,
    /// Each correlation id's deliveries one after another (`ConsumerSpec`).
    pub in_order: bool,
    /// The broker's URL (a comma-separated list for a cluster); the
    /// machine's RabbitMQ when `None`.
    pub broker_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            handler: recording_handler(),
            relays: 1,
            taps: Vec::new(),
            consume: true,
            concurrency: 1,
            batch: 1,
            in_order: false,
            broker_url: None,
        }
    }
}

impl Harness {
    pub async fn start() -> Self {
        Self::with(Options::default()).await
    }

    pub async fn with(options: Options) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let db = TestDatabase::create(
            "messaging",
            // The shared trigger function first (the outbox's wake-up uses it).
            &[
                root.join("../db/migrations"),
                root.join("migrations"),
                root.join("tests/migrations"),
            ],
        )
        .await
        .unwrap();
        let prefix = format!("t{}.", Uuid::new_v4().simple());
        let mut settings = spotter_platform::settings::load_from("test", None)
            .unwrap()
            .broker;
        if let Some(url) = &options.broker_url {
            settings.url = url.clone().into();
        }
        settings.exchange = format!("{prefix}spotter.events");
        settings.queue_prefix = prefix.clone();
        let shutdown = CancellationToken::new();
        let pool = spotter_db::connect(&db.settings.url, 16).unwrap();
        let broker = Broker::start(&settings, &format!("test-{prefix}"), shutdown.clone());
        // Declared before anything publishes, so no test depends on how soon the
        // consumer gets to declaring them itself (it does so again, idempotently).
        let connection = broker.connected(&shutdown).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        let mut consumers = vec![CONSUMER.to_owned()];
        declare_consumer_queues(
            &channel,
            &settings.exchange,
            &settings.queue_name(CONSUMER),
            &[ROUTING_KEY],
        )
        .await
        .unwrap();
        for tap in &options.taps {
            declare_consumer_queues(
                &channel,
                &settings.exchange,
                &settings.queue_name(tap),
                &[ROUTING_KEY],
            )
            .await
            .unwrap();
            consumers.push((*tap).to_owned());
        }
        let metrics = ConsumerMetrics::new("test").unwrap();
        if options.consume {
            let consumer = Consumer::new(
                pool.clone(),
                broker.clone(),
                ConsumerSpec {
                    name: CONSUMER.to_owned(),
                    routing_keys: vec![ROUTING_KEY.to_owned()],
                    handler: options.handler,
                    concurrency: options.concurrency,
                    batch: options.batch,
                    admission: options.in_order.then(in_order_per_correlation),
                },
            )
            .with_metrics(metrics.clone());
            tokio::spawn(consumer.run(shutdown.clone()));
        }
        for _ in 0..options.relays {
            let relay = Relay::new(
                pool.clone(),
                broker.clone(),
                db.settings.url.clone(),
                RelayConfig::default(),
            );
            tokio::spawn(relay.run(shutdown.clone()));
        }
        Self {
            _cleanup: BrokerCleanup {
                settings: settings.clone(),
                consumers,
            },
            db,
            pool,
            broker,
            settings,
            prefix,
            shutdown,
            metrics,
        }
    }

    /// Starts one more relay, for a test that writes its rows before any
    /// relay runs (`Options::relays: 0`).
    pub fn start_relay(&self, config: RelayConfig) {
        let relay = Relay::new(
            self.pool.clone(),
            self.broker.clone(),
            self.db.settings.url.clone(),
            config,
        );
        tokio::spawn(relay.run(self.shutdown.clone()));
    }

    pub fn queue(&self, consumer: &str) -> String {
        self.settings.queue_name(consumer)
    }

    /// A connection of the test's own, outside the pool.
    pub async fn connection(&self) -> AsyncPgConnection {
        self.db.connection().await.unwrap()
    }

    /// Enqueues one message per payload, each in its own committed transaction.
    pub async fn enqueue(&self, correlation: &str, payloads: &[&[u8]]) -> Vec<Uuid> {
        let mut conn = self.pool.get().await.unwrap();
        let mut ids = Vec::new();
        for payload in payloads {
            ids.push(
                enqueue_message(&mut conn, message(correlation, payload))
                    .await
                    .unwrap(),
            );
        }
        ids
    }

    pub async fn execute(&self, sql: &str) {
        let mut conn = self.pool.get().await.unwrap();
        diesel::sql_query(sql).execute(&mut conn).await.unwrap();
    }

    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.pool.get().await.unwrap();
        diesel::sql_query(sql)
            .get_result::<Count>(&mut conn)
            .await
            .unwrap()
            .n
    }

    /// Waits for `sql` to count `want`: the consumer commits its effects, and
    /// this polls for them with a generous bound instead of guessing a delay.
    pub async fn wait_for_count(&self, sql: &str, want: i64) {
        self.wait_for(sql, want, |n| n == want).await;
    }

    /// Waits for `sql` to count `want` or more (a flow still running).
    pub async fn wait_for_count_at_least(&self, sql: &str, want: i64) {
        self.wait_for(sql, want, |n| n >= want).await;
    }

    async fn wait_for(&self, sql: &str, want: i64, done: impl Fn(i64) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
        loop {
            let n = self.count(sql).await;
            if done(n) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{sql}: {n}, wanted {want}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Messages ready in one of the test's queues (see `ready_messages`).
    pub async fn ready_messages(&self, consumer: &str) -> u32 {
        let connection = self
            .broker
            .connected(&CancellationToken::new())
            .await
            .unwrap();
        ready_messages(&connection, &self.queue(consumer))
            .await
            .unwrap()
    }

    /// Effects' payloads in the order they were committed.
    pub async fn effect_payloads(&self) -> Vec<Vec<u8>> {
        #[derive(QueryableByName)]
        struct Payload {
            #[diesel(sql_type = Binary)]
            payload: Vec<u8>,
        }
        let mut conn = self.pool.get().await.unwrap();
        diesel::sql_query("SELECT payload FROM effects ORDER BY id")
            .load::<Payload>(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.payload)
            .collect()
    }
}

pub fn message(correlation: &str, payload: &[u8]) -> OutboundMessage {
    OutboundMessage {
        routing_key: ROUTING_KEY.to_owned(),
        message_type: "spotter.test.v1.ThingHappened".to_owned(),
        correlation_id: correlation.to_owned(),
        payload: payload.to_vec(),
    }
}

/// Handles timestamps; refuses (permanently) the one whose seconds are 666
/// until `accept_all` is set, as if a bug were fixed and the message replayed.
pub fn picky_handler(accept_all: Arc<AtomicBool>) -> Handler {
    Arc::new(move |conn, incoming: &Incoming| {
        let accept_all = accept_all.clone();
        Box::pin(async move {
            let at: prost_types::Timestamp = incoming.decode()?;
            if at.seconds == 666 && !AtomicBool::load(&accept_all, Ordering::SeqCst) {
                return Err(HandlerError::Permanent(anyhow::anyhow!("refused: 666")));
            }
            record_effect(conn, incoming).await
        })
    })
}

pub fn timestamp(seconds: i64) -> Vec<u8> {
    prost::Message::encode_to_vec(&prost_types::Timestamp { seconds, nanos: 0 })
}
