//! The delivery guarantees, against the real PostgreSQL and RabbitMQ:
//! committed ⇒ published, rolled back ⇒ never; a duplicate ⇒ one effect.

// Helpers outside #[test] functions unwrap too: a failure there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use spotter_db::testing::TestDatabase;
use spotter_messaging::testing::BrokerCleanup;
use spotter_messaging::topology::declare_consumer_queues;
use spotter_messaging::{
    Broker, Consumer, ConsumerSpec, Handler, OutboundMessage, Relay, RelayConfig, enqueue_message,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const ROUTING_KEY: &str = "test.thing_happened.v1";
const CONSUMER: &str = "test.effects";

struct Harness {
    db: TestDatabase,
    pool: spotter_db::Pool,
    broker: Broker,
    shutdown: CancellationToken,
    _cleanup: BrokerCleanup,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn recording_handler() -> Handler {
    Arc::new(|conn, incoming| {
        Box::pin(async move {
            diesel::sql_query("INSERT INTO effects (message_id, payload) VALUES ($1, $2)")
                .bind::<SqlUuid, _>(incoming.message_id)
                .bind::<diesel::sql_types::Binary, _>(&incoming.payload)
                .execute(conn)
                .await?;
            Ok(())
        })
    })
}

async fn harness() -> Harness {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let db = TestDatabase::create(
        "messaging",
        &[root.join("migrations"), root.join("tests/migrations")],
    )
    .await
    .unwrap();
    let prefix = format!("t{}.", Uuid::new_v4().simple());
    let mut settings = spotter_platform::settings::load_from("test", None)
        .unwrap()
        .broker;
    settings.exchange = format!("{prefix}spotter.events");
    settings.queue_prefix = prefix.clone();
    let shutdown = CancellationToken::new();
    let pool = spotter_db::connect(&db.settings.url, 4).unwrap();
    let broker = Broker::start(&settings, &format!("test-{prefix}"), shutdown.clone());
    // Declared before anything publishes, so no test depends on how soon the
    // consumer gets to declaring them itself (it does so again, idempotently).
    let connection = broker.connected(&shutdown).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    declare_consumer_queues(
        &channel,
        &settings.exchange,
        &settings.queue_name(CONSUMER),
        &[ROUTING_KEY],
    )
    .await
    .unwrap();
    let consumer = Consumer::new(
        pool.clone(),
        broker.clone(),
        ConsumerSpec {
            name: CONSUMER.to_owned(),
            routing_keys: vec![ROUTING_KEY.to_owned()],
            handler: recording_handler(),
            concurrency: 1,
        },
    );
    tokio::spawn(consumer.run(shutdown.clone()));
    let relay = Relay::new(
        pool.clone(),
        broker.clone(),
        db.settings.url.clone(),
        RelayConfig::default(),
    );
    tokio::spawn(relay.run(shutdown.clone()));
    Harness {
        _cleanup: BrokerCleanup {
            settings,
            consumers: vec![CONSUMER.to_owned()],
        },
        db,
        pool,
        broker,
        shutdown,
    }
}

fn message(correlation: &str, payload: &[u8]) -> OutboundMessage {
    OutboundMessage {
        routing_key: ROUTING_KEY.to_owned(),
        message_type: "spotter.test.v1.ThingHappened".to_owned(),
        correlation_id: correlation.to_owned(),
        payload: payload.to_vec(),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(h: &Harness, sql: &str) -> i64 {
    let mut conn = h.pool.get().await.unwrap();
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

/// Waits for `sql` to count `want`, failing after a generous bound.
async fn wait_for_count(h: &Harness, sql: &str, want: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let n = count(h, sql).await;
        if n == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sql}: {n}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn committed_events_are_delivered_and_rolled_back_ones_never() {
    let h = harness().await;
    let mut conn =
        AsyncPgConnection::establish(secrecy::ExposeSecret::expose_secret(&h.db.settings.url))
            .await
            .unwrap();
    let rolled_back = conn
        .transaction::<(), diesel::result::Error, _>(async |conn| {
            enqueue_message(conn, message("r-1", b"never")).await?;
            Err(diesel::result::Error::RollbackTransaction)
        })
        .await;
    assert!(rolled_back.is_err());
    conn.transaction::<(), diesel::result::Error, _>(async |conn| {
        for payload in [b"one", b"two", b"thr"] {
            enqueue_message(conn, message("r-1", payload)).await?;
        }
        Ok(())
    })
    .await
    .unwrap();

    wait_for_count(&h, "SELECT count(*) AS n FROM effects", 3).await;
    wait_for_count(
        &h,
        "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
        0,
    )
    .await;
    assert_eq!(
        count(
            &h,
            "SELECT count(*) AS n FROM effects WHERE payload = 'never'"
        )
        .await,
        0
    );
    assert_eq!(count(&h, "SELECT count(*) AS n FROM outbox").await, 3);
    // One referral's events arrive in the order they were enqueued.
    let mut conn = h.pool.get().await.unwrap();
    #[derive(QueryableByName)]
    struct Payload {
        #[diesel(sql_type = diesel::sql_types::Binary)]
        payload: Vec<u8>,
    }
    let order: Vec<Vec<u8>> = diesel::sql_query("SELECT payload FROM effects ORDER BY id")
        .load::<Payload>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.payload)
        .collect();
    assert_eq!(
        order,
        vec![b"one".to_vec(), b"two".to_vec(), b"thr".to_vec()]
    );
}

#[tokio::test]
async fn a_duplicate_delivery_has_one_effect() {
    let h = harness().await;
    let shutdown = CancellationToken::new();
    let connection = h.broker.connected(&shutdown).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let duplicate = Uuid::now_v7();
    let marker = Uuid::now_v7();
    let publish = async |id: Uuid, body: &[u8]| {
        let properties = BasicProperties::default()
            .with_message_id(ShortString::from(id.to_string()))
            .with_delivery_mode(2);
        channel
            .basic_publish(
                h.broker.settings().exchange.as_str().into(),
                ROUTING_KEY.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                body,
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap()
            .take_message()
            .is_none()
    };
    assert!(
        publish(duplicate, b"dup").await,
        "the queue is declared: routed"
    );
    assert!(publish(duplicate, b"dup").await);
    assert!(publish(marker, b"marker").await);
    // One delivery at a time, in order: once the marker is handled, both copies were seen.
    wait_for_count(
        &h,
        &format!("SELECT count(*) AS n FROM effects WHERE message_id = '{marker}'"),
        1,
    )
    .await;
    assert_eq!(
        count(
            &h,
            &format!("SELECT count(*) AS n FROM effects WHERE message_id = '{duplicate}'")
        )
        .await,
        1
    );
}
