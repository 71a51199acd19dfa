//! The loop behind the notification service's workers (reminders, push):
//! do what is due, then sleep until the next thing falls due, a NOTIFY says
//! something new arrived, or a while has passed (a missed NOTIFY costs at
//! most that), whichever comes first.

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use secrecy::SecretString;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest a worker sleeps without looking.
const LONGEST_NAP: Duration = Duration::from_secs(30);

/// A worker's two questions, answered against the database.
pub trait DueWork: Send + Sync {
    /// Does what is due now.
    fn work(&self) -> BoxFuture<'_, anyhow::Result<()>>;
    /// When the next thing falls due, if anything is waiting.
    fn next_due(&self) -> BoxFuture<'_, anyhow::Result<Option<DateTime<Utc>>>>;
}

pub async fn run_when_due(
    worker: &'static str,
    database_url: SecretString,
    channel: &'static str,
    shutdown: CancellationToken,
    due: impl DueWork,
) {
    let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(spotter_db::listen(
        database_url,
        channel,
        wake_tx,
        shutdown.clone(),
    ));
    loop {
        if let Err(err) = due.work().await {
            tracing::warn!(worker, error = %err, "worker round failed; trying again shortly");
        }
        let nap = match due.next_due().await {
            Ok(Some(due)) => (due - Utc::now())
                .to_std()
                .unwrap_or_default()
                .min(LONGEST_NAP),
            Ok(None) => LONGEST_NAP,
            Err(_) => Duration::from_secs(1),
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = wake_rx.recv() => {}
            () = tokio::time::sleep(nap) => {}
        }
    }
}
