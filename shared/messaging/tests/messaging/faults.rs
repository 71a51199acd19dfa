//! Faults the messaging layer must survive without losing or doubling work:
//! the broker going away, a crash between commit and ack, poison messages,
//! transient handler failures.

use crate::support::{CONSUMER, Harness, Options, picky_handler, record_effect, timestamp};
use spotter_messaging::dead_letters;
use spotter_messaging::testing::{BrokerRestart, close_connections_named};
use spotter_messaging::{Broker, Handler, HandlerError};
use spotter_platform::settings::BrokerSettings;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::Notify;

#[tokio::test]
async fn events_enqueued_while_the_broker_connection_is_cut_are_all_delivered() {
    let h = Harness::start().await;
    h.enqueue("r-1", &[b"before-1", b"before-2"]).await;
    h.wait_for_count("SELECT count(*) AS n FROM effects", 2)
        .await;
    let closed = close_connections_named(&h.prefix).unwrap();
    assert_eq!(closed, 1, "the test's own connection");
    // Committed while the broker connection is down (or being rebuilt).
    h.enqueue("r-1", &[b"during-1", b"during-2", b"during-3"])
        .await;
    h.enqueue("r-2", &[b"during-4"]).await;
    h.wait_for_count("SELECT count(*) AS n FROM effects", 6)
        .await;
    h.wait_for_count(
        "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
        0,
    )
    .await;
    assert_eq!(
        h.count("SELECT count(DISTINCT message_id) AS n FROM effects")
            .await,
        6,
        "each event once"
    );
}

/// RabbitMQ itself stopped and started: must run alone (`make test-serial`).
#[tokio::test]
#[ignore = "serial: restarts RabbitMQ"]
async fn events_enqueued_while_rabbitmq_is_stopped_are_all_delivered() {
    let h = Harness::start().await;
    h.enqueue("r-1", &[b"before"]).await;
    h.wait_for_count("SELECT count(*) AS n FROM effects", 1)
        .await;
    let restart = BrokerRestart::stop().unwrap();
    h.enqueue("r-1", &[b"during-1", b"during-2"]).await;
    drop(restart);
    h.wait_for_count("SELECT count(*) AS n FROM effects", 3)
        .await;
    assert_eq!(
        h.count("SELECT count(DISTINCT message_id) AS n FROM effects")
            .await,
        3
    );
}

#[tokio::test]
async fn a_crash_between_commit_and_ack_redelivers_without_a_second_effect() {
    // The handler pauses inside its transaction the first time; the test cuts
    // the broker connection there, so the commit lands and the ack cannot.
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let held_once = Arc::new(AtomicBool::new(false));
    let handler: Handler = {
        let (entered, release, held_once) = (entered.clone(), release.clone(), held_once.clone());
        Arc::new(move |conn, incoming| {
            let (entered, release, held_once) =
                (entered.clone(), release.clone(), held_once.clone());
            Box::pin(async move {
                record_effect(conn, incoming).await?;
                if !held_once.swap(true, Ordering::SeqCst) {
                    entered.notify_one();
                    release.notified().await;
                }
                Ok(())
            })
        })
    };
    let h = Harness::with(Options {
        handler,
        ..Options::default()
    })
    .await;
    h.enqueue("r-1", &[b"once"]).await;
    entered.notified().await;
    assert_eq!(close_connections_named(&h.prefix).unwrap(), 1);
    release.notify_one();
    // The broker got no ack, so it hands the message back to the consumer when
    // it reconnects, ahead of anything newer (quorum queues serve returned
    // messages first) and one at a time (prefetch 1): once the marker below is
    // handled, the redelivery has been settled before it.
    h.enqueue("r-2", &[b"marker"]).await;
    h.wait_for_count(
        "SELECT count(*) AS n FROM effects WHERE payload = 'marker'",
        1,
    )
    .await;
    assert_eq!(
        h.count("SELECT count(*) AS n FROM effects WHERE payload = 'once'")
            .await,
        1,
        "the redelivery was skipped by the inbox"
    );
    assert_eq!(h.ready_messages(CONSUMER).await, 0);
}

#[tokio::test]
async fn poison_is_parked_with_its_reason_and_can_be_replayed() {
    let accept_all = Arc::new(AtomicBool::new(false));
    let h = Harness::with(Options {
        handler: picky_handler(accept_all.clone()),
        ..Options::default()
    })
    .await;
    h.enqueue("r-1", &[&[0xff, 0xff, 0xff]]).await; // not a protobuf message
    h.enqueue("r-2", &[&timestamp(666)]).await;
    h.enqueue("r-3", &[&timestamp(1)]).await;
    // The queue is not blocked: the message after the poison is handled.
    h.wait_for_count("SELECT count(*) AS n FROM effects", 1)
        .await;
    h.wait_for_count("SELECT count(*) AS n FROM dead_letters", 2)
        .await;

    let mut conn = h.connection().await;
    let parked = dead_letters::list(&mut conn, 10, None).await.unwrap();
    let reasons: Vec<&str> = parked.iter().map(|d| d.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("undecodable")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("refused: 666")),
        "{reasons:?}"
    );
    assert!(parked.iter().all(|d| d.queue == h.queue(CONSUMER)));
    assert!(parked.iter().all(|d| d.attempts == 1));

    // The bug is "fixed"; the operator replays the refused one.
    accept_all.store(true, Ordering::SeqCst);
    let refused = parked.iter().find(|d| d.reason.contains("666")).unwrap();
    let replayed = dead_letters::replay(&mut conn, refused.id).await.unwrap();
    assert!(replayed.replayed_at.is_some());
    h.wait_for_count("SELECT count(*) AS n FROM effects", 2)
        .await;
    assert_eq!(
        h.count(&format!(
            "SELECT count(*) AS n FROM effects WHERE message_id = '{}'",
            refused.message_id.unwrap()
        ))
        .await,
        1,
        "the replay arrives under its original message id"
    );
    assert!(matches!(
        dead_letters::replay(&mut conn, refused.id).await,
        Err(dead_letters::ReplayError::AlreadyReplayed(_))
    ));
}

#[tokio::test]
async fn a_transient_failure_is_retried_with_back_off_without_blocking_others() {
    // Fails the first two deliveries of "flaky", as a busy dependency would.
    let handler: Handler = Arc::new(|conn, incoming| {
        Box::pin(async move {
            if incoming.payload == b"flaky" && incoming.attempt <= 2 {
                return Err(HandlerError::Transient(anyhow::anyhow!("busy")));
            }
            record_effect(conn, incoming).await
        })
    });
    let h = Harness::with(Options {
        handler,
        ..Options::default()
    })
    .await;
    h.enqueue("r-1", &[b"flaky"]).await;
    h.enqueue("r-2", &[b"steady"]).await;
    // Retries wait 1 s then 10 s in the delay queues; "steady" does not wait.
    h.wait_for_count("SELECT count(*) AS n FROM effects", 2)
        .await;
    assert_eq!(
        h.effect_payloads().await,
        vec![b"steady".to_vec(), b"flaky".to_vec()]
    );
    assert_eq!(
        h.count("SELECT count(*) AS n FROM effects WHERE payload = 'flaky' AND attempt = 3")
            .await,
        1
    );
    assert_eq!(h.count("SELECT count(*) AS n FROM dead_letters").await, 0);
}

/// A cluster's URL list whose first node is down (nothing listens on port
/// 1): the connection goes to the next node. And readiness: a broker never
/// reached (a wrong URL, say) holds a replica out; one that was reached and
/// then lost only degrades it.
#[tokio::test]
async fn a_node_that_is_down_is_skipped_for_the_next_in_the_list() {
    let h = Harness::start().await;
    let live = h.settings.addresses().remove(0);
    let dead = "amqp://guest:guest@127.0.0.1:1/%2f";
    let shutdown = tokio_util::sync::CancellationToken::new();
    let start = |url: String, name: &str| {
        let settings = BrokerSettings {
            url: url.into(),
            ..h.settings.clone()
        };
        // From the first node on: the dead one is tried first.
        Broker::start_at(
            &settings,
            &format!("test-{}{name}", h.prefix),
            0,
            shutdown.clone(),
        )
    };
    let listed = start(format!("{dead},{live}"), "list");
    let never = start(dead.to_owned(), "dead");
    assert!(
        listed.readiness("listed").required(),
        "required until reached"
    );
    let connected = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        listed.connected(&shutdown),
    )
    .await
    .expect("connected through the second node within 30 s");
    assert!(connected.is_some());
    assert!(
        !listed.readiness("listed").required(),
        "reached once: only degrades"
    );
    assert!(never.readiness("never").required());
    assert!(never.readiness("never").check().await.is_err());
    shutdown.cancel();
}
