//! The loop behind the services' background workers (notification's
//! reminders and push, booking's waitlist):
//! do what is due, then sleep until the next thing falls due, a NOTIFY says
//! something new arrived, or a while has passed (a missed NOTIFY costs at
//! most that), whichever comes first.

use futures_util::future::BoxFuture;
use secrecy::SecretString;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest a worker sleeps without looking. The reminders' NOTIFY trigger
/// counts on it: it wakes the workers only for a reminder due within two
/// minutes (migration 2026-12-01-000001_reminders_wake_when_soon).
const LONGEST_NAP: Duration = Duration::from_secs(30);
/// Shortest: something due but taken by another replica is not spun on.
const SHORTEST_NAP: Duration = Duration::from_millis(250);
/// After a failed round (database away): no warning storm.
const ERROR_NAP: Duration = Duration::from_secs(1);

/// A worker's two questions, answered against the database.
pub trait DueWork: Send + Sync {
    /// Does what is due now.
    fn work(&self) -> BoxFuture<'_, anyhow::Result<()>>;
    /// How long until the next thing falls due (zero: now), if anything waits.
    fn until_next(&self) -> BoxFuture<'_, anyhow::Result<Option<Duration>>>;
}

pub async fn run_when_due(
    worker: &'static str,
    database_url: SecretString,
    channel: &'static str,
    shutdown: CancellationToken,
    due: impl DueWork,
) {
    let (wake_tx, mut wake_rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(crate::listen(
        database_url,
        channel,
        wake_tx,
        shutdown.clone(),
    ));
    loop {
        let nap = match due.work().await {
            Err(err) => {
                tracing::warn!(worker, error = %err, "worker round failed; trying again shortly");
                ERROR_NAP
            }
            Ok(()) => match due.until_next().await {
                Ok(Some(wait)) => wait.clamp(SHORTEST_NAP, LONGEST_NAP),
                Ok(None) => LONGEST_NAP,
                Err(_) => ERROR_NAP,
            },
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = wake_rx.recv() => {}
            () = tokio::time::sleep(nap) => {}
        }
    }
}
