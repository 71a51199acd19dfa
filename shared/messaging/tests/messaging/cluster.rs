//! A three-node RabbitMQ cluster (deploy/local/rabbitmq-cluster.sh), its
//! work queue a quorum queue replicated on all three: under a steady stream
//! of events, the node leading the queue stops and comes back. Nothing
//! committed is lost, nothing is applied twice, and the flow resumes on the
//! same processes, through the other nodes of the URL list.

use crate::support::{CONSUMER, Harness, Options, timestamp};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The cluster for one test: started (or found running) by the script, and
/// stopped, whatever the test did, when dropped.
struct Cluster {
    urls: String,
}

fn script_command() -> Command {
    let mut command = Command::new("bash");
    command.arg(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/local/rabbitmq-cluster.sh"),
    );
    command
}

fn script(args: &[&str]) -> String {
    let output = script_command().args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "rabbitmq-cluster.sh {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

impl Cluster {
    fn start() -> Self {
        let said = script(&["start"]);
        let urls = said
            .lines()
            .find_map(|line| line.trim().strip_prefix("SPOTTER_BROKER__URL="))
            .unwrap_or_else(|| panic!("no URL list in:\n{said}"))
            .to_owned();
        Self { urls }
    }

    /// Which node (1, 2 or 3) leads `queue`.
    fn leader_of(&self, queue: &str) -> String {
        let said = script(&["leader-of", queue]);
        let node = said.trim();
        ["1", "2", "3"]
            .into_iter()
            .find(|n| node.contains(&format!("spotter-c{n}@")))
            .unwrap_or_else(|| panic!("no cluster node leads {queue}: {said}"))
            .to_owned()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Stopped whatever the test did: never leave three nodes running.
        let _ = script_command().arg("stop").status();
    }
}

#[tokio::test]
#[ignore = "serial: starts a three-node RabbitMQ cluster and stops one of its nodes"]
async fn the_node_leading_the_queue_stops_and_returns_under_load_losing_nothing() {
    let cluster = Cluster::start();
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
    script(&["stop-node", &leader]);
    let before = h.count(effects).await;
    // The flow resumes through the other two nodes, on the same processes.
    h.wait_for_count_at_least(effects, before + 200).await;
    let resumed_after = stopped_at.elapsed();
    assert_ne!(
        cluster.leader_of(&queue),
        leader,
        "a new leader was elected"
    );

    script(&["start-node", &leader]);
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
