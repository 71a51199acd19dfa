//! Deliveries that are ready together, handled in one transaction
//! (`ConsumerSpec::batch`; docs/architecture.md, "Consumers in batches").
//! A single delivery goes through the same transaction, as a batch of one.
//!
//! Under load, deliveries wait in the consumer's prefetch while its workers
//! are busy; a worker then takes all that are ready (up to `batch`) and
//! handles them one after another in a single transaction, with one inbox
//! insert for all of them: one BEGIN, one COMMIT and one disk flush where
//! each would have had its own. Idle, a worker finds one delivery ready and
//! handles it alone as before, so batching adds no wait.
//!
//! Every guarantee stays per delivery. Nothing is acked before the
//! transaction commits. If any handler fails, the whole transaction rolls
//! back and each delivery of the batch is handled again alone, in its own
//! transaction, so one message's failure retries or parks that message only.
//! The inbox still makes each effect happen once: a delivery seen before is
//! skipped, and so is a second copy of one message within the batch. A
//! batch keeps arrival order, and an admission (one referral's events in
//! order) holds across batches: a delivery whose turn has not come is set
//! aside until the batch gathered without it is settled, and then handled
//! alone once its turn comes.

use super::{Consumer, HandlerError, Incoming, done_or_duplicate};
use crate::delivery::{header_str, read};
use crate::schema::inbox;
use crate::trace;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use lapin::Channel;
use lapin::message::Delivery;
use spotter_db::prepared;
use std::collections::HashSet;
use tracing::Instrument;
use uuid::Uuid;

/// A delivery with what its admission yielded, held until it is settled.
type Admitted = Option<super::Admitted>;
/// A delivery as it arrived, with its admission (asked in arrival order).
pub(super) type Arrived = (
    Result<Delivery, lapin::Error>,
    Option<BoxFuture<'static, super::Admitted>>,
);

impl Consumer {
    /// Handles the deliveries a worker found ready, together when it can.
    /// Each is admitted in turn (`ConsumerSpec::admission`). One whose turn
    /// has not come waits for an earlier delivery of its referral, which may
    /// be in this very batch: it is set aside, the others are handled
    /// together and settled, and then the ones set aside, each alone once
    /// its turn comes. Its referral's later deliveries in the chunk wait for
    /// it, so they are set aside too, and keep their order.
    pub(super) async fn process_ready(
        &self,
        ready: Vec<Arrived>,
        publisher: &Channel,
        queue: &str,
    ) {
        let mut gathered = Vec::with_capacity(ready.len());
        let mut set_aside = Vec::new();
        for (delivery, admission) in ready {
            let delivery = match delivery {
                Ok(delivery) => delivery,
                Err(err) => {
                    tracing::warn!(error = %err, "delivery error");
                    continue;
                }
            };
            let admitted = match admission {
                None => None,
                Some(mut admission) => match (&mut admission).now_or_never() {
                    Some(admitted) => Some(admitted),
                    None => {
                        set_aside.push((delivery, admission));
                        continue;
                    }
                },
            };
            match read(&delivery) {
                Ok(incoming) => gathered.push((delivery, incoming, admitted)),
                // Parked at once, as always.
                Err(_) => self.process(delivery, publisher, queue).await,
            }
        }
        self.process_gathered(gathered, publisher, queue).await;
        for (delivery, admission) in set_aside {
            // Held until it is settled.
            let _admitted = admission.await;
            self.process(delivery, publisher, queue).await;
        }
    }

    /// Under an admission, deliveries of different correlations (a batch
    /// never holds two of one: the second's turn waits) are handled in the
    /// order of their ids, so two batches, here or in another replica, take
    /// the referrals' row locks in one order and never wait on each other
    /// in a cycle. Without one, arrival order is kept.
    fn lock_order(&self, gathered: &mut [(Delivery, Incoming, Admitted)]) {
        if self.spec.admission.is_some() {
            gathered.sort_by(|a, b| a.1.correlation_id.cmp(&b.1.correlation_id));
        }
    }

    /// Handles admitted deliveries in one transaction (alone when there is
    /// one, or when the batch fails), settles each, then lets their turns end.
    async fn process_gathered(
        &self,
        mut gathered: Vec<(Delivery, Incoming, Admitted)>,
        publisher: &Channel,
        queue: &str,
    ) {
        if gathered.len() < 2 {
            for (delivery, _, _admitted) in gathered {
                self.process(delivery, publisher, queue).await;
            }
            return;
        }
        self.lock_order(&mut gathered);
        // Only what the transaction reads: the turns held stay outside it.
        let batch: Vec<(&Delivery, &Incoming)> = gathered.iter().map(|(d, i, _)| (d, i)).collect();
        match self.handle_in_one_transaction(&batch).await {
            Ok(seen_before) => {
                for &(delivery, incoming) in &batch {
                    // Its own span, as `process` gives a delivery handled alone.
                    let span = tracing::info_span!(
                        "settle",
                        consumer = %self.spec.name,
                        message_id = %incoming.message_id,
                    );
                    async {
                        self.count_redelivery(delivery);
                        let seen = seen_before.contains(&delivery.delivery_tag);
                        let outcome = done_or_duplicate(seen);
                        self.settle(delivery, outcome, publisher, queue, incoming.attempt)
                            .await;
                    }
                    .instrument(span)
                    .await;
                }
            }
            Err(err) => {
                let reason = match &err {
                    HandlerError::Transient(err) | HandlerError::Permanent(err) => err,
                };
                tracing::info!(
                    consumer = %self.spec.name,
                    deliveries = gathered.len(),
                    error = %format!("{reason:#}"),
                    "a batch failed and rolled back; handling each of its deliveries alone"
                );
                for (delivery, _, _admitted) in gathered {
                    self.process(delivery, publisher, queue).await;
                }
            }
        }
    }

    /// Runs every new delivery's handler in one transaction, in the order
    /// given, after one inbox insert for all of them; a single delivery
    /// (`process`) is a batch of one. Returns the delivery tags skipped as
    /// seen before.
    pub(super) async fn handle_in_one_transaction(
        &self,
        batch: &[(&Delivery, &Incoming)],
    ) -> Result<HashSet<u64>, HandlerError> {
        let mut conn = self.pool.get().await.map_err(|err| {
            HandlerError::Transient(anyhow::anyhow!("no database connection: {err}"))
        })?;
        // A batch's handlers each get a span and a trace of their own; a
        // single delivery's are its `process` span and trace already.
        let own_spans = batch.len() > 1;
        let consumer = self.spec.name.as_str();
        let handler = self.spec.handler.clone();
        conn.transaction::<_, HandlerError, _>(async |conn| {
            // In id order: two batches holding the same messages (a relay's
            // second publish) then wait on each other's rows in one order.
            let mut in_id_order: Vec<&Incoming> =
                batch.iter().map(|&(_, incoming)| incoming).collect();
            in_id_order.sort_by_key(|incoming| incoming.message_id);
            let rows: Vec<_> = in_id_order
                .into_iter()
                .map(|incoming| {
                    (
                        inbox::message_id.eq(incoming.message_id),
                        inbox::consumer.eq(consumer),
                        inbox::message_type.eq(&incoming.message_type),
                    )
                })
                .collect();
            // One text per batch size, at most `batch` of them: kept prepared.
            let mut new: HashSet<Uuid> = prepared(
                diesel::insert_into(inbox::table)
                    .values(rows)
                    .on_conflict_do_nothing()
                    .returning(inbox::message_id),
            )
            .get_results(conn)
            .await?
            .into_iter()
            .collect();
            let mut seen_before = HashSet::new();
            for &(delivery, incoming) in batch {
                // Taken from `new` by its first copy: a second copy of the
                // same message in this batch is a duplicate too.
                if !new.remove(&incoming.message_id) {
                    seen_before.insert(delivery.delivery_tag);
                    continue;
                }
                if !own_spans {
                    handler(conn, incoming).await?;
                    continue;
                }
                let span = tracing::info_span!(
                    "batched delivery",
                    consumer = %consumer,
                    message_id = %incoming.message_id,
                    correlation_id = incoming.correlation_id.as_deref(),
                );
                let traceparent = header_str(delivery, "traceparent");
                trace::in_trace(traceparent.as_deref(), handler(conn, incoming))
                    .instrument(span)
                    .await?;
            }
            Ok(seen_before)
        })
        .await
    }
}
