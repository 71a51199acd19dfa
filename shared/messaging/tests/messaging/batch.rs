//! Deliveries that wait in the prefetch while the consumer is busy are
//! handled together in one transaction (`ConsumerSpec::batch`), and every
//! delivery keeps its own guarantees: each takes effect once, one seen
//! before is skipped, and one that fails is retried or parked alone.

use crate::support::{CONSUMER, Harness, Options, record_effect};
use spotter_messaging::metrics::Consumed;
use spotter_messaging::{Handler, HandlerError};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// A handler that holds the delivery whose payload is `gate` until
/// released, so that later deliveries pile up in the prefetch; refuses
/// `refuse` for good; records every other delivery in `effects`.
#[derive(Clone, Default)]
struct Gate {
    started: Arc<Notify>,
    released: Arc<Notify>,
    /// How often the handler ran for the payload `a`.
    a_runs: Arc<AtomicUsize>,
}

impl Gate {
    fn handler(&self) -> Handler {
        let gate = self.clone();
        Arc::new(move |conn, incoming| {
            let gate = gate.clone();
            Box::pin(async move {
                match incoming.payload.as_slice() {
                    b"gate" => {
                        gate.started.notify_one();
                        gate.released.notified().await;
                    }
                    b"refuse" => {
                        return Err(HandlerError::Permanent(anyhow::anyhow!("refused")));
                    }
                    b"a" => {
                        gate.a_runs.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => {}
                }
                record_effect(conn, incoming).await
            })
        })
    }

    /// One worker, busy with `gate` until `release`.
    async fn hold(h: &Harness, gate: &Gate) {
        h.enqueue("gate", &[b"gate"]).await;
        tokio::time::timeout(Duration::from_secs(30), gate.started.notified())
            .await
            .expect("the gate delivery should reach its handler");
    }

    fn release(&self) {
        self.released.notify_one();
    }
}

fn batching(gate: &Gate) -> Options {
    Options {
        handler: gate.handler(),
        // One worker taking up to 8 at once.
        concurrency: 8,
        batch: 8,
        ..Options::default()
    }
}

/// Waits until every enqueued message is published and sits, delivered but
/// unacked, in the consumer's prefetch. The count is read on the consumer's
/// own connection, after the deliveries on the socket: once it reads 0, the
/// client has taken them in.
async fn all_delivered(h: &Harness) {
    h.wait_for_count(
        "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL",
        0,
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while h.ready_messages(CONSUMER).await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages stay ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn counted(h: &Harness, outcome: Consumed, want: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while h.metrics.count(CONSUMER, outcome) < want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{outcome:?} never reached {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(h.metrics.count(CONSUMER, outcome), want);
}

#[tokio::test]
async fn deliveries_ready_together_share_a_transaction_and_each_takes_effect_once() {
    let gate = Gate::default();
    let h = Harness::with(batching(&gate)).await;
    Gate::hold(&h, &gate).await;
    let ids = h.enqueue("c", &[b"a", b"b", b"c", b"d", b"e", b"f"]).await;
    all_delivered(&h).await;
    // Two of them took effect before, as if another replica had handled
    // them and crashed before its ack: their redeliveries must change nothing.
    for seen in [ids[1], ids[4]] {
        mark_seen(&h, seen).await;
    }
    gate.release();

    h.wait_for_count("SELECT count(*) AS n FROM effects", 5)
        .await;
    counted(&h, Consumed::Handled, 5).await;
    counted(&h, Consumed::Duplicate, 2).await;
    let payloads = h.effect_payloads().await;
    assert_eq!(payloads, [&b"gate"[..], b"a", b"c", b"d", b"f"]);
    let transactions = h
        .count("SELECT count(DISTINCT txid) AS n FROM effects WHERE payload <> 'gate'::bytea")
        .await;
    assert!(
        transactions < 4,
        "4 deliveries waiting together took {transactions} transactions"
    );
}

#[tokio::test]
async fn a_refused_delivery_rolls_its_batch_back_and_is_parked_alone() {
    let gate = Gate::default();
    let h = Harness::with(batching(&gate)).await;
    Gate::hold(&h, &gate).await;
    h.enqueue("c", &[b"a", b"refuse", b"b"]).await;
    all_delivered(&h).await;
    gate.release();

    counted(&h, Consumed::Parked, 1).await;
    counted(&h, Consumed::Handled, 3).await;
    // The batch's work before the refusal was rolled back and done again
    // alone: once each, nothing of the refused one.
    assert_eq!(h.effect_payloads().await, [&b"gate"[..], b"a", b"b"]);
    assert_eq!(
        gate.a_runs.load(Ordering::SeqCst),
        2,
        "`a` should have run in the batch, then again alone"
    );
}

async fn mark_seen(h: &Harness, message_id: Uuid) {
    h.execute(&format!(
        "INSERT INTO inbox (message_id, consumer, message_type) \
         VALUES ('{message_id}', '{CONSUMER}', 'spotter.test.v1.ThingHappened')"
    ))
    .await;
}
