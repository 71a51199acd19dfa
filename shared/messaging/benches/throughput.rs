//! Outbox → broker → consumer throughput and latency on this machine, printed
//! beside the broker's own raw publish rate measured in the same run (the
//! baseline: what RabbitMQ does with confirms and nothing else).
//!
//! `make bench` (or `cargo bench -p spotter-messaging`). Needs the same
//! PostgreSQL and RabbitMQ as the tests; `BENCH_EVENTS` sets the size.
//! Figures are printed, never asserted: speed is measured, not tested.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The tests' harness; the benchmark uses only part of it.
#[path = "../tests/messaging/support/mod.rs"]
#[allow(dead_code)]
mod support;

use futures_util::future::join_all;
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use spotter_messaging::testing::BrokerCleanup;
use spotter_messaging::topology::declare_consumer_queues;
use spotter_messaging::{Relay, RelayConfig, enqueue_message};
use std::time::{Duration, Instant};
use support::{Harness, Options, message};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let events: usize = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000);
    println!(
        "messaging throughput, {events} events, {} cores",
        num_cores()
    );

    let raw = raw_broker_rate(events).await;
    println!("  baseline  RabbitMQ publish+confirm, pipelined:   {raw:>8.0} msg/s");

    let relay_rate = relay_rate(events).await;
    println!(
        "  relay     outbox → broker (confirmed, marked):   {relay_rate:>8.0} ev/s  ({:.2}× baseline)",
        relay_rate / raw
    );
    let pipeline_rate = pipeline_rate(events).await;
    println!(
        "  pipeline  commit → consumer effect committed:    {pipeline_rate:>8.0} ev/s  (consumer concurrency {CONCURRENCY})"
    );
    let (p50, p99) = latency(1000).await;
    println!(
        "  latency   commit → effect at {LATENCY_RATE} ev/s steady:      p50 {:>6.1} ms   p99 {:>6.1} ms",
        p50 * 1000.0,
        p99 * 1000.0
    );
}

/// Deliveries in flight per consumer, as a service would configure it.
const CONCURRENCY: u16 = 8;
/// Events per second for the latency run: below the pipeline's capacity, so
/// that it measures delivery, not a growing backlog.
const LATENCY_RATE: usize = 200;

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Publishes `events` messages to a quorum queue with every confirm in flight,
/// as the relay does, and nothing else: no database, no consumer.
async fn raw_broker_rate(events: usize) -> f64 {
    let h = Harness::with(Options {
        relays: 0,
        ..Options::default()
    })
    .await;
    let connection = h.broker.connected(&CancellationToken::new()).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let queue = h.queue("bench.raw");
    declare_consumer_queues(&channel, &h.settings.exchange, &queue, &["bench.raw.v1"])
        .await
        .unwrap();
    let _cleanup = BrokerCleanup {
        settings: h.settings.clone(),
        consumers: vec!["bench.raw".to_owned()],
    };
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let payload = vec![7u8; 200];
    let started = Instant::now();
    let mut confirms = Vec::with_capacity(events);
    for _ in 0..events {
        confirms.push(
            channel
                .basic_publish(
                    h.settings.exchange.as_str().into(),
                    "bench.raw.v1".into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &payload,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .unwrap(),
        );
    }
    let acked = join_all(confirms).await;
    let elapsed = started.elapsed();
    assert!(acked.iter().all(|c| c.as_ref().is_ok_and(|c| c.is_ack())));
    events as f64 / elapsed.as_secs_f64()
}

/// Fills the outbox first (no relay, no consumer running), then starts one
/// relay and times how long it takes to have every row confirmed and marked.
async fn relay_rate(events: usize) -> f64 {
    let h = Harness::with(Options {
        relays: 0,
        consume: false,
        ..Options::default()
    })
    .await;
    fill_outbox(&h, events).await;
    let started = Instant::now();
    let relay = Relay::new(
        h.pool.clone(),
        h.broker.clone(),
        h.db.settings.url.clone(),
        RelayConfig::default(),
    );
    tokio::spawn(relay.run(h.shutdown.clone()));
    let total = i64::try_from(events).unwrap();
    wait_until(
        &h,
        "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
        0,
        total,
    )
    .await;
    events as f64 / started.elapsed().as_secs_f64()
}

/// Events committed in bursts with relay and consumer running: the time from
/// the first commit to the last effect.
async fn pipeline_rate(events: usize) -> f64 {
    let h = Harness::with(Options {
        concurrency: CONCURRENCY,
        ..Options::default()
    })
    .await;
    let started = Instant::now();
    fill_outbox(&h, events).await;
    let total = i64::try_from(events).unwrap();
    wait_until(&h, "SELECT count(*) AS n FROM effects", total, 0).await;
    events as f64 / started.elapsed().as_secs_f64()
}

/// Commits `events` in transactions of 100, spread over 1000 referrals (the
/// relay publishes one head per referral per round, as in production).
async fn fill_outbox(h: &Harness, events: usize) {
    use diesel_async::AsyncConnection;
    let mut conn = h.pool.get().await.unwrap();
    let payload = vec![7u8; 200];
    for chunk in 0..events.div_ceil(100) {
        let in_chunk = 100.min(events - chunk * 100);
        conn.transaction::<(), diesel::result::Error, _>(async |conn| {
            for i in 0..in_chunk {
                let referral = format!("r-{}", (chunk * 100 + i) % 1000);
                enqueue_message(conn, message(&referral, &payload)).await?;
            }
            Ok(())
        })
        .await
        .unwrap();
    }
}

/// Commit-to-effect latency under a steady trickle of `LATENCY_RATE` ev/s.
async fn latency(events: usize) -> (f64, f64) {
    let h = Harness::with(Options {
        concurrency: CONCURRENCY,
        ..Options::default()
    })
    .await;
    let payload = vec![7u8; 200];
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let per_tick = LATENCY_RATE / 100;
    for i in 0..events {
        if i % per_tick == 0 {
            tick.tick().await;
        }
        let referral = format!("r-{}", i % 100);
        h.enqueue(&referral, &[&payload]).await;
    }
    let total = i64::try_from(events).unwrap();
    wait_until(&h, "SELECT count(*) AS n FROM effects", total, 0).await;
    #[derive(diesel::QueryableByName)]
    struct Percentiles {
        #[diesel(sql_type = diesel::sql_types::Double)]
        p50: f64,
        #[diesel(sql_type = diesel::sql_types::Double)]
        p99: f64,
    }
    use diesel_async::RunQueryDsl;
    let mut conn = h.pool.get().await.unwrap();
    let p: Percentiles = diesel::sql_query(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50, \
                percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99 \
         FROM (SELECT extract(epoch FROM e.recorded_at - o.created_at)::float8 AS lag \
               FROM effects e JOIN outbox o USING (message_id)) lags",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    (p.p50, p.p99)
}

/// Polls `sql` until it reaches `want` (counting up, or down to it from `from`).
async fn wait_until(h: &Harness, sql: &str, want: i64, from: i64) {
    let reached = |n: i64| if from > want { n <= want } else { n >= want };
    while !reached(h.count(sql).await) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
