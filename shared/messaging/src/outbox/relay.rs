//! Publishes committed outbox rows to RabbitMQ.
//!
//! Each round locks a batch of *heads* — the oldest unpublished row of each
//! correlation id — with `FOR UPDATE SKIP LOCKED`, so replicas share the work
//! without ever publishing two events of one referral out of order: a later
//! event is not a head until the earlier one is marked published. The batch is
//! published with confirms pipelined (all in flight, then awaited together),
//! `mandatory` so an unroutable event comes back as a failure instead of
//! vanishing, and rows are marked only after their confirm. A crash between
//! confirm and mark republishes; consumers' inbox absorbs the duplicate.

use crate::broker::{BROKER_TIMEOUT, Broker, confirmed, pause};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::join_all;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use spotter_db::{Pool, prepared};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub batch_size: i64,
    /// Fallback when a NOTIFY is missed (listener reconnecting).
    pub poll_interval: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// Notified by the outbox's insert trigger (see the outbox migration).
const OUTBOX_CHANNEL: &str = "spotter_outbox";

/// What one relay round did.
struct Round {
    published: usize,
    failed: usize,
    /// Rows may be pending that no NOTIFY will announce: the round was full,
    /// or a published row's successor became a head. Otherwise every row
    /// committed since the round began announced itself on the wake channel,
    /// so the relay can wait for it instead of running an empty round.
    more: bool,
}

pub struct Relay {
    pool: Pool,
    broker: Broker,
    listen_url: secrecy::SecretString,
    config: RelayConfig,
}

impl Relay {
    /// `listen_url` is the database URL for the LISTEN connection (a pooled
    /// connection would lose its LISTEN when recycled).
    pub fn new(
        pool: Pool,
        broker: Broker,
        listen_url: secrecy::SecretString,
        config: RelayConfig,
    ) -> Self {
        Self {
            pool,
            broker,
            listen_url,
            config,
        }
    }

    /// Runs until `shutdown`; every failure is retried after a pause.
    pub async fn run(self, shutdown: CancellationToken) {
        let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel::<()>(1);
        tokio::spawn(spotter_db::listen(
            self.listen_url.clone(),
            OUTBOX_CHANNEL,
            wake_tx,
            shutdown.clone(),
        ));
        while let Some(connection) = self.broker.connected(&shutdown).await {
            let channel = match open_confirm_channel(&connection).await {
                Ok(channel) => channel,
                Err(err) => {
                    tracing::warn!(error = %err, "relay could not open a channel");
                    pause(&shutdown, Duration::from_secs(1)).await;
                    continue;
                }
            };
            loop {
                if shutdown.is_cancelled() {
                    return;
                }
                let round = self.publish_batch(&channel).await;
                match round {
                    Ok(Round {
                        failed: 0,
                        more: false,
                        ..
                    }) => {
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            _ = wake_rx.recv() => {}
                            () = tokio::time::sleep(self.config.poll_interval) => {}
                        }
                    }
                    Ok(Round { failed: 0, .. }) => {}
                    Ok(Round {
                        failed, published, ..
                    }) => {
                        tracing::warn!(
                            failed,
                            published,
                            "some events were not confirmed; retrying"
                        );
                        pause(&shutdown, Duration::from_millis(500)).await;
                        break; // a fresh channel, in case this one is broken
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "outbox relay round failed; retrying");
                        pause(&shutdown, Duration::from_millis(500)).await;
                        break;
                    }
                }
                if !channel.status().connected() {
                    break;
                }
            }
        }
    }

    /// One round: lock heads, publish, await confirms, mark the confirmed
    /// rows. The marks commit even when some rows failed, so a partial failure
    /// only republishes what the broker did not take.
    async fn publish_batch(&self, channel: &Channel) -> anyhow::Result<Round> {
        let mut conn = self.pool.get().await?;
        let exchange = self.broker.settings().exchange.clone();
        let batch_size = self.config.batch_size;
        conn.transaction::<Round, anyhow::Error, _>(async |conn| {
            let rows = lock_heads(conn, batch_size).await?;
            let published = publish_all(channel, &exchange, &rows).await;
            let confirmed: Vec<i64> = rows
                .iter()
                .zip(&published)
                .filter(|(_, ok)| **ok)
                .map(|(row, _)| row.seq)
                .collect();
            if !confirmed.is_empty() {
                mark_published(conn, &confirmed).await?;
            }
            let full = i64::try_from(rows.len()).is_ok_and(|n| n >= batch_size);
            Ok(Round {
                published: confirmed.len(),
                failed: rows.len() - confirmed.len(),
                more: full || rows.iter().any(|row| row.has_next),
            })
        })
        .await
    }
}

/// Marks the rows the broker confirmed as published. The array is read as
/// `(SELECT $1)`, which the planner cannot look into: planned for its
/// values, a round's few rows always looked cheaper than the plan kept for
/// any array, so every round was planned afresh (docs/architecture.md, "What
/// one flow costs", plans kept).
pub async fn mark_published(conn: &mut AsyncPgConnection, seqs: &[i64]) -> QueryResult<usize> {
    prepared(
        diesel::sql_query(
            "UPDATE outbox SET published_at = now() WHERE seq = ANY((SELECT $1)::bigint[])",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(seqs),
    )
    .execute(conn)
    .await
}

/// The heads, oldest first. Ordered by `seq + 0`, not `seq`: ordered by
/// `seq`, the planner may walk the primary key from the oldest row, expecting
/// the few pending rows to be spread among the published ones and a small
/// `LIMIT` to stop the walk early; but pending rows are the newest, so the
/// walk reads every published row the outbox retains (seen under load: 2,000
/// rows read per round, 98 ms). The expression leaves the partial pending
/// index as the only way in, whatever the statistics say.
async fn lock_heads(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<PendingRow>> {
    prepared(diesel::sql_query(
        "SELECT o.seq, o.message_id, o.exchange, o.routing_key, o.message_type, o.correlation_id, \
                o.payload, o.traceparent, o.created_at, \
                EXISTS (SELECT 1 FROM outbox n \
                        WHERE n.correlation_id = o.correlation_id \
                          AND n.published_at IS NULL AND n.seq > o.seq) AS has_next \
         FROM outbox o \
         WHERE o.published_at IS NULL \
           AND NOT EXISTS (SELECT 1 FROM outbox p \
                           WHERE p.correlation_id = o.correlation_id \
                             AND p.published_at IS NULL AND p.seq < o.seq) \
         ORDER BY o.seq + 0 LIMIT $1 \
         FOR UPDATE OF o SKIP LOCKED",
    )
    .bind::<diesel::sql_types::BigInt, _>(limit))
    .load::<PendingRow>(conn)
    .await
}

#[derive(QueryableByName)]
/// An unpublished outbox row, as the relay reads it.
struct PendingRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    message_id: Uuid,
    /// `None`: the events exchange; `Some("")`: straight to a queue (replays).
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    exchange: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    routing_key: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    message_type: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    correlation_id: String,
    #[diesel(sql_type = diesel::sql_types::Binary)]
    payload: Vec<u8>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    traceparent: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    created_at: DateTime<Utc>,
    /// A later event of the same correlation id waits behind this one: it
    /// becomes a head once this one is marked, and no NOTIFY will say so.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    has_next: bool,
}

/// Publishes every row with all confirms in flight at once; `true` per row
/// that the broker confirmed and routed.
async fn publish_all(channel: &Channel, exchange: &str, rows: &[PendingRow]) -> Vec<bool> {
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        let publish = channel.basic_publish(
            row.exchange.as_deref().unwrap_or(exchange).into(),
            row.routing_key.as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                ..BasicPublishOptions::default()
            },
            &row.payload,
            properties(row),
        );
        pending.push(tokio::time::timeout(BROKER_TIMEOUT, publish).await);
    }
    let confirms = pending.into_iter().map(|sent| async move {
        let Ok(Ok(confirm)) = sent else { return false };
        let routed = confirmed(confirm).await;
        if !routed {
            tracing::error!(
                "event was nacked or unroutable (no queue bound); it stays in the outbox"
            );
        }
        routed
    });
    join_all(confirms).await
}

fn properties(row: &PendingRow) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(traceparent) = &row.traceparent {
        headers.insert(
            "traceparent".into(),
            AMQPValue::LongString(traceparent.as_str().into()),
        );
    }
    BasicProperties::default()
        .with_message_id(ShortString::from(row.message_id.to_string()))
        .with_type(ShortString::from(row.message_type.as_str()))
        .with_content_type("application/x-protobuf".into())
        .with_timestamp(u64::try_from(row.created_at.timestamp()).unwrap_or_default())
        .with_correlation_id(ShortString::from(row.correlation_id.as_str()))
        .with_delivery_mode(2)
        .with_headers(headers)
}

async fn open_confirm_channel(connection: &lapin::Connection) -> anyhow::Result<Channel> {
    let channel = tokio::time::timeout(BROKER_TIMEOUT, connection.create_channel()).await??;
    tokio::time::timeout(
        BROKER_TIMEOUT,
        channel.confirm_select(ConfirmSelectOptions::default()),
    )
    .await??;
    Ok(channel)
}
