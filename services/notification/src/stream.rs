//! `GET /v1/notifications/stream`: server-sent events for the open app.
//!
//! New notifications are committed by any replica; the insert trigger's
//! NOTIFY reaches every replica at commit, which wakes the streams it holds
//! to read what is new for their caller. `id:` is the notification's stream
//! position (`seq`, in commit order), so a reconnect with `Last-Event-ID`
//! resumes without loss; a comment line every
//! 15 s keeps proxies from closing an idle stream (and re-reads, in case a
//! NOTIFY was missed while the listener reconnected).

use crate::inbox::{Notification, visible_to};
use crate::schema::notifications;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::stream;
use spotter_auth::Caller;
use spotter_db::db_error;
use spotter_db::{Pool, checkout};
use spotter_platform::ApiResult;
use spotter_platform::openapi::AuthProblems;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

const HEARTBEAT: Duration = Duration::from_secs(15);
const CHANNEL: &str = "spotter_notifications";

/// Fans the database's "something new" out to every open stream here.
#[derive(Clone)]
pub struct StreamHub {
    wake: broadcast::Sender<()>,
}

impl StreamHub {
    pub fn new() -> Self {
        Self {
            wake: broadcast::channel(16).0,
        }
    }

    /// Forwards NOTIFYs to the streams until `shutdown`.
    pub async fn run(self, database_url: secrecy::SecretString, shutdown: CancellationToken) {
        let (tx, mut rx) = tokio::sync::mpsc::channel(1);
        tokio::spawn(spotter_db::listen(
            database_url,
            CHANNEL,
            tx,
            shutdown.clone(),
        ));
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                got = rx.recv() => match got {
                    Some(()) => { let _ = self.wake.send(()); }
                    None => return,
                },
            }
        }
    }
}

impl Default for StreamHub {
    fn default() -> Self {
        Self::new()
    }
}

struct Cursor {
    caller: Caller,
    pool: Pool,
    after: Option<i64>,
    wake: broadcast::Receiver<()>,
}

async fn newer(cursor: &Cursor) -> anyhow::Result<Vec<Notification>> {
    let mut conn = cursor.pool.get().await?;
    let mut query = notifications::table
        .filter(visible_to(&cursor.caller))
        .order(notifications::seq.asc())
        .limit(100)
        .select(Notification::as_select())
        .into_boxed();
    if let Some(after) = cursor.after {
        query = query.filter(notifications::seq.gt(after));
    }
    Ok(query.load(&mut conn).await?)
}

fn frame(n: &Notification) -> String {
    let data = serde_json::to_string(n).unwrap_or_else(|_| "{}".to_owned());
    format!("id: {}\nevent: notification\ndata: {data}\n\n", n.seq)
}

#[utoipa::path(
    get,
    path = "/v1/notifications/stream",
    tag = "notifications",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (a notification's `seq`)")),
    responses((status = 200, description = "text/event-stream of `notification` events", content_type = "text/event-stream"), AuthProblems),
    security(("bearer" = []))
)]
pub async fn stream(
    caller: Caller,
    request: HttpRequest,
    pool: web::Data<Pool>,
    hub: web::Data<StreamHub>,
) -> ApiResult<HttpResponse> {
    let resume = request
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    // Subscribe before reading, so nothing committed in between is missed.
    let wake = hub.wake.subscribe();
    let after = match resume {
        Some(id) => Some(id),
        // A fresh stream starts from now: the inbox list has the past.
        None => {
            let mut conn = checkout(&pool).await?;
            notifications::table
                .filter(visible_to(&caller))
                .order(notifications::seq.desc())
                .select(notifications::seq)
                .first::<i64>(&mut conn)
                .await
                .optional()
                .map_err(db_error)?
        }
    };
    let cursor = Cursor {
        caller,
        pool: pool.get_ref().clone(),
        after,
        wake,
    };
    let events = stream::unfold(cursor, |mut cursor| async move {
        loop {
            match newer(&cursor).await {
                Ok(found) if !found.is_empty() => {
                    cursor.after = found.last().map(|n| n.seq);
                    let text: String = found.iter().map(frame).collect();
                    return Some((Ok::<_, actix_web::Error>(Bytes::from(text)), cursor));
                }
                Ok(_) => {}
                // The database is away: end the stream; the app reconnects
                // with Last-Event-ID and loses nothing.
                Err(_) => return None,
            }
            tokio::select! {
                _ = cursor.wake.recv() => {}
                () = tokio::time::sleep(HEARTBEAT) => {
                    return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), cursor));
                }
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events))
}
