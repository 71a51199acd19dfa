//! `GET /v1/notifications/stream`: server-sent events for the open app.
//!
//! `id:` is the notification's stream position (`seq`, in commit order), so
//! a reconnect with `Last-Event-ID` resumes without loss: the stream first
//! catches up from the database, then takes what the replica's [`StreamHub`]
//! hands it (one read per wake-up for all streams). A comment line every
//! heartbeat (15 s) keeps proxies from closing an idle stream. The stream ends when the
//! caller's token expires (the app reconnects with a fresh token and
//! `Last-Event-ID`), when the same user opens too many others, or when its
//! client falls too far behind.

mod hub;

pub use hub::StreamHub;

use crate::inbox::{Notification, visible_sides};
use crate::schema::notifications;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use futures_util::stream;
use hub::Subscription;
use spotter_auth::Caller;
use spotter_db::{Pool, checkout, db_error};
use spotter_platform::openapi::AuthProblems;
use spotter_platform::{ApiError, ApiResult};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Rows per catch-up read.
const CATCH_UP_PAGE: i64 = 100;

struct Cursor {
    caller: Caller,
    pool: Pool,
    /// The last position sent.
    after: Option<i64>,
    /// Still reading the backlog from the database (a resumed stream).
    catching_up: bool,
    subscription: Subscription,
    expires: tokio::time::Instant,
    heartbeat: Duration,
}

/// The caller's notifications after `cursor.after`, one page: each side of
/// what they may see read through its own index in order, then merged, so a
/// page reads at most a page per side however long the backlog.
async fn backlog(cursor: &Cursor) -> anyhow::Result<Vec<Notification>> {
    let mut conn = cursor.pool.get().await?;
    let mut page: Vec<Notification> = Vec::new();
    for side in visible_sides(&cursor.caller) {
        let mut query = notifications::table
            .filter(side)
            .order(notifications::seq.asc())
            .limit(CATCH_UP_PAGE)
            .select(Notification::as_select())
            .into_boxed();
        if let Some(after) = cursor.after {
            query = query.filter(notifications::seq.gt(after));
        }
        page.extend(query.load(&mut conn).await?);
    }
    page.sort_by_key(|n| n.seq);
    page.dedup_by_key(|n| n.seq); // one addressed to the admin and their clinic
    page.truncate(usize::try_from(CATCH_UP_PAGE).unwrap_or(usize::MAX));
    Ok(page)
}

fn frame(n: &Notification) -> String {
    let data = serde_json::to_string(n).unwrap_or_else(|_| "{}".to_owned());
    format!("id: {}\nevent: notification\ndata: {data}\n\n", n.seq)
}

/// Frames for what the cursor has not sent yet (the hub may repeat what
/// the catch-up already read).
fn unsent<'a>(cursor: &mut Cursor, found: impl IntoIterator<Item = &'a Notification>) -> String {
    let mut text = String::new();
    for n in found {
        if cursor.after.is_none_or(|after| n.seq > after) {
            cursor.after = Some(n.seq);
            text.push_str(&frame(n));
        }
    }
    text
}

/// The next chunk of the stream, or `None` to end it.
async fn next_chunk(mut cursor: Cursor) -> Option<(Result<Bytes, actix_web::Error>, Cursor)> {
    loop {
        if cursor.catching_up {
            // The database is away: end the stream; the app reconnects
            // with Last-Event-ID and loses nothing.
            let found = backlog(&cursor).await.ok()?;
            cursor.catching_up = found.len() as i64 == CATCH_UP_PAGE;
            let text = unsent(&mut cursor, &found);
            if !text.is_empty() {
                return Some((Ok(Bytes::from(text)), cursor));
            }
            continue;
        }
        tokio::select! {
            got = cursor.subscription.receiver.recv() => {
                // None: the hub closed this stream (too many, or too slow).
                let first: Arc<Notification> = got?;
                let mut found = vec![first];
                while let Ok(more) = cursor.subscription.receiver.try_recv() {
                    found.push(more);
                }
                let text = unsent(&mut cursor, found.iter().map(|n| n.as_ref()));
                if !text.is_empty() {
                    return Some((Ok(Bytes::from(text)), cursor));
                }
            }
            () = tokio::time::sleep(cursor.heartbeat) => {
                return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), cursor));
            }
            () = tokio::time::sleep_until(cursor.expires) => return None,
        }
    }
}

#[utoipa::path(
    get,
    path = "/v1/notifications/stream",
    tag = "notifications",
    params(("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (a notification's `seq`)")),
    responses(
        (status = 200, description = "text/event-stream of `notification` events; ends when the token expires", content_type = "text/event-stream"),
        (status = 503, description = "This replica holds all the streams it may; retry after `Retry-After`", body = spotter_platform::problem::Problem, content_type = "application/problem+json"),
        AuthProblems
    ),
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
    if !hub.started().await {
        return Err(ApiError::Unavailable("the live stream is starting".into()));
    }
    // Subscribe before reading, so nothing committed in between is missed.
    let subscription = hub
        .subscribe(&caller)
        .map_err(|_| ApiError::Unavailable("too many live streams here".into()))?;
    let after = match resume {
        Some(id) => Some(id),
        // A fresh stream starts from now (the inbox list has the past): the
        // newest position of anyone's, one probe of the `seq` index, where
        // "the caller's newest" would scan the whole table for a clinic
        // admin's two-sided rule.
        None => {
            let mut conn = checkout(&pool).await?;
            hub::newest_position(&mut conn).await.map_err(db_error)?
        }
    };
    let left = caller
        .expires_at
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    let cursor = Cursor {
        caller,
        pool: pool.get_ref().clone(),
        after,
        catching_up: resume.is_some(),
        subscription,
        expires: tokio::time::Instant::now() + left,
        heartbeat: hub.heartbeat(),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream::unfold(cursor, next_chunk)))
}
