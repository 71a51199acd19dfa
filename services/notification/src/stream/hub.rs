//! One reader per replica for every open stream: on each NOTIFY from the
//! notifications table, the hub reads what is new once and hands each
//! notification to the open streams allowed to see it. A stream never
//! queries on a wake-up, so a thousand open apps cost one query, not a
//! thousand, and hold no pooled connection while they wait.
//!
//! Limits (`[streams]` settings): a user holds at most `max_per_user`
//! streams, and one more closes that user's oldest (a phone that lost its
//! network leaves a stream the server still thinks open; refusing the new
//! one would lock the user out until it timed out). A replica holds at most
//! `max_per_replica`; beyond that a new stream is refused with 503 and the
//! app retries after a while, or reaches another replica.

use crate::inbox::{Notification, can_see};
use crate::schema::notifications;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use prometheus::{IntCounter, IntGauge};
use spotter_auth::Caller;
use spotter_db::Pool;
use spotter_platform::settings::StreamSettings;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const CHANNEL: &str = "spotter_notifications";
/// Read again this often even without a NOTIFY (one may be lost while the
/// listener reconnects).
const LOOK_ANYWAY: Duration = Duration::from_secs(15);
/// Rows per read; a burst is read in several.
const PAGE: i64 = 500;
/// Notifications waiting for one stream's client. A client that falls this
/// far behind is cut off: it reconnects with `Last-Event-ID` and loses nothing.
const BACKLOG: usize = 256;

#[derive(Clone)]
pub struct StreamHub {
    inner: Arc<Inner>,
}

struct Inner {
    limits: StreamSettings,
    /// True once the hub knows where "now" is: a stream that opened earlier
    /// could miss what commits between its own catch-up and that moment.
    started: tokio::sync::watch::Sender<bool>,
    open: Mutex<Open>,
    metrics: HubMetrics,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    /// By id, so the oldest stream comes first.
    streams: BTreeMap<u64, Subscriber>,
}

struct Subscriber {
    caller: Caller,
    sender: mpsc::Sender<Arc<Notification>>,
}

#[derive(Clone)]
struct HubMetrics {
    open: IntGauge,
    reads: IntCounter,
}

/// A stream's place in the hub: notifications arrive on `receiver`, and
/// dropping it leaves the hub. `receiver` ends when the hub closes the stream.
pub struct Subscription {
    hub: Arc<Inner>,
    id: u64,
    pub receiver: mpsc::Receiver<Arc<Notification>>,
}

/// Every replica's stream slots are taken.
#[derive(Debug)]
pub struct Full;

impl StreamHub {
    pub fn new(limits: StreamSettings) -> anyhow::Result<Self> {
        let metrics = HubMetrics {
            open: IntGauge::new(
                "notification_streams_open",
                "Live notification streams open on this replica",
            )?,
            reads: IntCounter::new(
                "notification_stream_reads_total",
                "Reads of new notifications for the live streams (one per wake-up, not per stream)",
            )?,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                limits,
                started: tokio::sync::watch::channel(false).0,
                open: Mutex::new(Open::default()),
                metrics,
            }),
        })
    }

    pub fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.inner.metrics.open.clone()),
            Box::new(self.inner.metrics.reads.clone()),
        ]
    }

    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.inner.limits.heartbeat_seconds.max(1))
    }

    /// Waits (a little) for the hub to be reading; false if it is not.
    pub async fn started(&self) -> bool {
        let mut started = self.inner.started.subscribe();
        tokio::time::timeout(Duration::from_secs(5), started.wait_for(|s| *s))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// A place for `caller`'s new stream, closing their oldest if they are
    /// at their limit.
    pub fn subscribe(&self, caller: &Caller) -> Result<Subscription, Full> {
        let mut open = self.inner.lock();
        let theirs: Vec<u64> = open
            .streams
            .iter()
            .filter(|(_, s)| s.caller.user_id == caller.user_id)
            .map(|(id, _)| *id)
            .collect();
        let excess = (theirs.len() + 1).saturating_sub(self.inner.limits.max_per_user);
        for oldest in theirs.into_iter().take(excess) {
            // Dropping its sender ends that stream.
            open.streams.remove(&oldest);
        }
        if open.streams.len() >= self.inner.limits.max_per_replica {
            self.inner.metrics.open.set(open.streams.len() as i64);
            return Err(Full);
        }
        let (sender, receiver) = mpsc::channel(BACKLOG);
        open.next_id += 1;
        let id = open.next_id;
        open.streams.insert(
            id,
            Subscriber {
                caller: caller.clone(),
                sender,
            },
        );
        self.inner.metrics.open.set(open.streams.len() as i64);
        Ok(Subscription {
            hub: self.inner.clone(),
            id,
            receiver,
        })
    }

    /// Reads what is new on every NOTIFY (and every `LOOK_ANYWAY`) and
    /// hands it out, until `shutdown`.
    pub async fn run(
        self,
        pool: Pool,
        database_url: secrecy::SecretString,
        shutdown: CancellationToken,
    ) {
        let (tx, mut wake) = mpsc::channel(1);
        tokio::spawn(spotter_db::listen(
            database_url,
            CHANNEL,
            tx,
            shutdown.clone(),
        ));
        let mut last_seen: Option<i64> = None;
        loop {
            match self.hand_out_news(&pool, &mut last_seen).await {
                Ok(()) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "reading new notifications for the live streams failed")
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = wake.recv() => {}
                () = tokio::time::sleep(LOOK_ANYWAY) => {}
            }
        }
    }

    /// One read per page of what committed since `last_seen`, handed to
    /// every stream open now that may see it. Positions are in commit order
    /// (notification inserts take turns: `store::ORDER_LOCK`), so nothing
    /// commits behind `last_seen`. A stream that opened after a read was
    /// handed out catches up from the database itself (see `super`).
    async fn hand_out_news(&self, pool: &Pool, last_seen: &mut Option<i64>) -> anyhow::Result<()> {
        let mut conn = pool.get().await?;
        let Some(after) = *last_seen else {
            // Starting: everything so far is the past, which streams read themselves.
            *last_seen = Some(newest_position(&mut conn).await?.unwrap_or(0));
            self.inner.started.send_replace(true);
            return Ok(());
        };
        let mut after = after;
        loop {
            self.inner.metrics.reads.inc();
            let page: Vec<(Notification, Option<Uuid>)> = notifications::table
                .filter(notifications::seq.gt(after))
                .order(notifications::seq.asc())
                .limit(PAGE)
                .select((Notification::as_select(), notifications::recipient_id))
                .load(&mut conn)
                .await?;
            let Some(newest) = page.last().map(|(n, _)| n.seq) else {
                return Ok(());
            };
            after = newest;
            *last_seen = Some(newest);
            let full = page.len() as i64 == PAGE;
            self.hand_out(page);
            if !full {
                return Ok(());
            }
        }
    }

    fn hand_out(&self, page: Vec<(Notification, Option<Uuid>)>) {
        let mut open = self.inner.lock();
        let mut behind = Vec::new();
        for (notification, recipient) in page {
            let notification = Arc::new(notification);
            for (id, subscriber) in &open.streams {
                if can_see(&subscriber.caller, recipient, notification.clinic_id)
                    && subscriber.sender.try_send(notification.clone()).is_err()
                {
                    behind.push(*id);
                }
            }
        }
        for id in behind {
            open.streams.remove(&id);
        }
        self.inner.metrics.open.set(open.streams.len() as i64);
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        // A panic while holding it leaves a map that is still whole.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut open = self.hub.lock();
        open.streams.remove(&self.id);
        self.hub.metrics.open.set(open.streams.len() as i64);
    }
}

/// The newest stream position there is (`None`: no notification yet).
pub(super) async fn newest_position(
    conn: &mut diesel_async::AsyncPgConnection,
) -> QueryResult<Option<i64>> {
    notifications::table
        .select(diesel::dsl::max(notifications::seq))
        .get_result(conn)
        .await
}
