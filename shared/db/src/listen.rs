//! Wake-ups from PostgreSQL `NOTIFY`.
//!
//! A NOTIFY sent inside a transaction is delivered when it commits, and never
//! if it rolls back: the right moment to wake a worker whose input that
//! transaction changed. Every replica listening hears it.

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Holds a LISTEN connection on `channel` (its own: a pooled connection would
/// lose the LISTEN when recycled) and pokes `wake` on each notification,
/// reconnecting after failures until `shutdown`. A notification sent while
/// no connection listens is lost, so `wake` is also poked each time LISTEN
/// takes hold (at start and after every reconnection); callers poll as well.
pub async fn listen(
    url: SecretString,
    channel: &'static str,
    wake: mpsc::Sender<()>,
    shutdown: CancellationToken,
) {
    while !shutdown.is_cancelled() {
        let connected = crate::tls::establish(url.expose_secret()).await;
        if let Ok(mut conn) = connected
            && diesel::sql_query(format!("LISTEN {channel}"))
                .execute(&mut conn)
                .await
                .is_ok()
        {
            // Whatever was notified while no one listened is looked for now.
            let _ = wake.try_send(());
            let mut notifications = std::pin::pin!(conn.notifications_stream());
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    next = notifications.next() => match next {
                        Some(Ok(_)) => { let _ = wake.try_send(()); }
                        _ => break,
                    }
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Sends a notification on `channel` (delivered at commit when in a transaction).
pub async fn notify(
    conn: &mut AsyncPgConnection,
    channel: &'static str,
) -> diesel::QueryResult<()> {
    crate::prepared(
        diesel::sql_query("SELECT pg_notify($1, '')").bind::<diesel::sql_types::Text, _>(channel),
    )
    .execute(conn)
    .await
    .map(|_| ())
}
