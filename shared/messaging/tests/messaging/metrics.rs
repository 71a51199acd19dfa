//! What `/metrics` says of the messaging layer matches what happened: the
//! alerts on parked messages, redeliveries and the outbox backlog
//! (deploy/observability/alerts.yaml) read these.

use crate::support::{CONSUMER, Harness, Options, picky_handler, timestamp};
use prometheus::Encoder;
use prometheus::core::Collector;
use spotter_messaging::dead_letters;
use spotter_messaging::metrics::{Consumed, Gauges};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The collectors' text exposition, as Prometheus scrapes it.
fn exported(collectors: Vec<Box<dyn Collector>>) -> String {
    let registry = prometheus::Registry::new_custom(Some("spotter".into()), None).unwrap();
    for collector in collectors {
        registry.register(collector).unwrap();
    }
    let mut text = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&registry.gather(), &mut text)
        .unwrap();
    String::from_utf8(text).unwrap()
}

#[tokio::test]
async fn parked_messages_are_counted_until_replayed() {
    let accept_all = Arc::new(AtomicBool::new(false));
    let h = Harness::with(Options {
        handler: picky_handler(accept_all.clone()),
        ..Options::default()
    })
    .await;
    let gauges = Gauges::new("test").unwrap();
    gauges.sample(&h.pool, &h.broker).await.unwrap();
    let before = exported(gauges.collectors());
    assert!(
        before.contains(r#"spotter_dead_letters_parked{service="test"} 0"#),
        "{before}"
    );

    h.enqueue("r-1", &[&[0xff, 0xff]]).await; // undecodable
    h.enqueue("r-2", &[&timestamp(666)]).await; // refused for good
    h.enqueue("r-3", &[&timestamp(1)]).await;
    h.wait_for_count("SELECT count(*) AS n FROM effects", 1)
        .await;
    h.wait_for_count("SELECT count(*) AS n FROM dead_letters", 2)
        .await;
    // Each is counted once its parked copy is confirmed, which races the
    // parked copy's own recording: wait for the count, bounded.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while h.metrics.count(CONSUMER, Consumed::Parked) < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "both parkings counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(h.metrics.count(CONSUMER, Consumed::Parked), 2);
    assert_eq!(h.metrics.count(CONSUMER, Consumed::Retried), 0);

    gauges.sample(&h.pool, &h.broker).await.unwrap();
    let parked = exported(gauges.collectors());
    assert!(
        parked.contains(r#"spotter_dead_letters_parked{service="test"} 2"#),
        "{parked}"
    );
    assert!(
        parked.contains(r#"spotter_broker_connected{service="test"} 1"#),
        "{parked}"
    );

    // The refusal is "fixed" and that one replayed: it is handled this time,
    // so nothing is parked again behind the sample's back.
    accept_all.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut conn = h.connection().await;
    let refused = dead_letters::list(&mut conn, 10, None)
        .await
        .unwrap()
        .into_iter()
        .find(|parked| parked.reason.contains("666"))
        .unwrap();
    dead_letters::replay(&mut conn, refused.id).await.unwrap();
    h.wait_for_count("SELECT count(*) AS n FROM effects", 2)
        .await;
    gauges.sample(&h.pool, &h.broker).await.unwrap();
    let replayed = exported(gauges.collectors());
    assert!(
        replayed.contains(r#"spotter_dead_letters_parked{service="test"} 1"#),
        "{replayed}"
    );
}

#[tokio::test]
async fn the_outbox_backlog_and_its_age_are_sampled() {
    // No relay: what is enqueued stays pending.
    let h = Harness::with(Options {
        relays: 0,
        consume: false,
        ..Options::default()
    })
    .await;
    let gauges = Gauges::new("test").unwrap();
    gauges.sample(&h.pool, &h.broker).await.unwrap();
    let empty = exported(gauges.collectors());
    assert!(
        empty.contains(r#"spotter_outbox_pending{service="test"} 0"#),
        "{empty}"
    );
    assert!(
        empty.contains(r#"spotter_outbox_oldest_pending_age_seconds{service="test"} 0"#),
        "{empty}"
    );

    h.enqueue("r-1", &[&timestamp(1), &timestamp(2)]).await;
    h.enqueue("r-2", &[&timestamp(3)]).await;
    h.execute(
        "UPDATE outbox SET created_at = now() - interval '90 seconds' WHERE correlation_id = 'r-1'",
    )
    .await;
    gauges.sample(&h.pool, &h.broker).await.unwrap();
    let backlog = exported(gauges.collectors());
    assert!(
        backlog.contains(r#"spotter_outbox_pending{service="test"} 3"#),
        "{backlog}"
    );
    let age: f64 = backlog
        .lines()
        .find_map(|line| {
            line.strip_prefix(r#"spotter_outbox_oldest_pending_age_seconds{service="test"} "#)
        })
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (90.0..120.0).contains(&age),
        "the oldest waited about 90 s: {age}"
    );
}
