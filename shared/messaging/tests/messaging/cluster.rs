//! A three-node RabbitMQ cluster (deploy/local/rabbitmq-cluster.sh), its
//! work queue a quorum queue replicated on all three: under a steady stream
//! of events, the node leading the queue stops and comes back. Nothing
//! committed is lost, nothing is applied twice, and the flow resumes on the
//! same processes, through the other nodes of the URL list.

use crate::support::{CONSUMER, Harness, Options, timestamp};
use spotter_messaging::testing::LocalCluster;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[tokio::test]
#[ignore = "serial: starts a three-node RabbitMQ cluster and stops one of its nodes"]
async fn the_node_leading_the_queue_stops_and_returns_under_load_losing_nothing() {
    let cluster = LocalCluster::start();
    let h = Arc::new(
        Harness::with(Options {
            broker_url: Some(cluster.urls.clone()),
            concurrency: 4,
            relays: 2,
            ..Options::default()
        })
        .await,
    );
    // Steady load: an event every 10 ms, ten referrals interleaved, each
    // committed to the outbox on its own, as requests would.
    let stop_load = Arc::new(AtomicBool::new(false));
    let enqueued = Arc::new(AtomicUsize::new(0));
    let load = {
        let (h, stop_load, enqueued) = (h.clone(), stop_load.clone(), enqueued.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut n = 0_i64;
            while !stop_load.load(Ordering::SeqCst) {
                tick.tick().await;
                h.enqueue(&format!("r-{}", n % 10), &[&timestamp(n)]).await;
                enqueued.fetch_add(1, Ordering::SeqCst);
                n += 1;
            }
        })
    };
    let effects = "SELECT count(*) AS n FROM effects";
    h.wait_for_count_at_least(effects, 100).await;

    let queue = h.queue(CONSUMER);
    let leader = cluster.leader_of(&queue);
    let stopped_at = Instant::now();
    cluster.stop_node(&leader);
    let before = h.count(effects).await;
    // The flow resumes through the other two nodes, on the same processes.
    h.wait_for_count_at_least(effects, before + 200).await;
    let resumed_after = stopped_at.elapsed();
    assert_ne!(
        cluster.leader_of(&queue),
        leader,
        "a new leader was elected"
    );

    cluster.start_node(&leader);
    let back = h.count(effects).await;
    h.wait_for_count_at_least(effects, back + 100).await;
    stop_load.store(true, Ordering::SeqCst);
    load.await.unwrap();

    // Every committed event applied exactly once, none parked.
    let total = i64::try_from(enqueued.load(Ordering::SeqCst)).unwrap();
    h.wait_for_count(effects, total).await;
    assert_eq!(
        h.count("SELECT count(DISTINCT message_id) AS n FROM effects")
            .await,
        total,
        "no event applied twice"
    );
    assert_eq!(
        h.count("SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
            .await,
        0
    );
    assert_eq!(h.count("SELECT count(*) AS n FROM dead_letters").await, 0);
    println!(
        "cluster: {total} events, leader node {leader} stopped and restarted; \
         the flow resumed {resumed_after:?} after the stop"
    );
}
