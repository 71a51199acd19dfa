//! The webhook queue (docs/webhooks.md, "Delivery"), shaped like the push
//! queue: a message is taken for one attempt by whichever replica gets it
//! first (`SKIP LOCKED`) under a lease, sent, and its outcome written only
//! while the lease is still that attempt's. At least once: a replica that
//! dies after the receiver answered sends it again, under the same
//! `webhook-id`, which is how the receiver tells. Ordering per endpoint is
//! not promised.
//!
//! An endpoint failing for the give-up window (a day) is turned off and its
//! clinic's admins are told.

use super::address::{self, PublicOnly};
use super::endpoints::webhook_id;
use super::signing;
use crate::attempt_metrics::AttemptMetrics;
use crate::notices::{Audience, NoticeKind, notice};
use crate::retry::Backoff;
use diesel::prelude::*;
use diesel::sql_types::{Double, Int4, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde_json::json;
use spotter_db::Pool;
use spotter_db::wake::{DueWork, run_when_due};
use spotter_platform::settings::WebhookSettings;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A message that finished (delivered, or given up) stays in the delivery
/// log for a month, then goes with its attempts (cascade). Pending ones are
/// never pruned.
pub const FINISHED_WEBHOOKS: spotter_db::retention::Rule = spotter_db::retention::Rule {
    table: "webhook_messages",
    timestamp: "updated_at",
    keep: Duration::from_secs(30 * 24 * 3600),
    only_when: Some("status <> 'pending'"),
};

const CHANNEL: &str = "spotter_webhooks";
/// Attempts one worker keeps going at once.
const IN_FLIGHT: i64 = 16;
/// While attempts are in flight, how often a free slot looks for new due
/// messages.
const RECHECK: Duration = Duration::from_millis(500);
/// How long a taken message stays the taker's: well past the timeout.
const LEASE: Duration = Duration::from_secs(120);
/// What of an error answer's body goes into the log.
const ERROR_CHARS: usize = 200;

/// Wakes the workers now (a redelivery, an endpoint turned back on).
pub async fn wake(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query(format!("SELECT pg_notify('{CHANNEL}', '')"))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    endpoint_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    clinic_id: Uuid,
    #[diesel(sql_type = Int4)]
    attempts: i32,
    /// Seconds since the message was planned.
    #[diesel(sql_type = Double)]
    age: f64,
    #[diesel(sql_type = Jsonb)]
    payload: serde_json::Value,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    /// The previous secret while it still signs.
    #[diesel(sql_type = Nullable<Text>)]
    previous_secret: Option<String>,
}

/// Takes up to `room` due messages for one attempt each, under a lease.
async fn take(pool: &Pool, room: i64) -> anyhow::Result<Vec<Taken>> {
    let mut conn = pool.get().await?;
    Ok(diesel::sql_query(
        "WITH taken AS (
             UPDATE webhook_messages
             SET attempts = attempts + 1, updated_at = now(),
                 next_attempt_at = now() + make_interval(secs => $2)
             WHERE id IN (
                 SELECT m.id FROM webhook_messages m
                 JOIN webhook_endpoints e ON e.id = m.endpoint_id AND e.enabled
                 WHERE m.status = 'pending' AND m.next_attempt_at <= now()
                 ORDER BY m.next_attempt_at LIMIT $1
                 FOR UPDATE OF m SKIP LOCKED)
             RETURNING id, endpoint_id, attempts, payload, created_at)
         SELECT t.id, t.endpoint_id, e.clinic_id, t.attempts, t.payload, e.url, e.secret,
                extract(epoch FROM now() - t.created_at)::float8 AS age,
                CASE WHEN e.previous_secret_until > now() THEN e.previous_secret END
                    AS previous_secret
         FROM taken t JOIN webhook_endpoints e ON e.id = t.endpoint_id",
    )
    .bind::<diesel::sql_types::BigInt, _>(room)
    .bind::<Double, _>(LEASE.as_secs_f64())
    .load(&mut conn)
    .await?)
}

/// What one attempt came to.
struct Answer {
    http_status: Option<i32>,
    delivered: bool,
    retry_after: Option<Duration>,
    error: Option<String>,
    latency: Duration,
}

/// The client every attempt uses: the timeout, no redirects followed (a
/// 3xx is a failed attempt), and only public addresses unless the
/// dev/test setting allows others.
pub fn client(settings: &WebhookSettings) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(settings.timeout_seconds))
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would resolve the name itself,
        // past the resolver below.
        .no_proxy()
        .user_agent("Spotter-Webhooks/1");
    if !settings.allow_private_addresses {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    Ok(builder.build()?)
}

async fn attempt(client: &reqwest::Client, settings: &WebhookSettings, m: &Taken) -> Answer {
    let started = Instant::now();
    let failed = |error: String| Answer {
        http_status: None,
        delivered: false,
        retry_after: None,
        error: Some(error),
        latency: started.elapsed(),
    };
    // A name is checked by the resolver; an address literal here.
    if let Some(why) = address::refusal(&m.url, settings.allow_private_addresses) {
        return failed(format!("url {why}"));
    }
    let body = m.payload.to_string();
    let id = webhook_id(m.id);
    let timestamp = chrono::Utc::now().timestamp();
    let mut secrets = vec![m.secret.as_str()];
    secrets.extend(m.previous_secret.as_deref());
    let signature = signing::header(&secrets, &id, timestamp, body.as_bytes());
    let sent = client
        .post(&m.url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(err) if err.is_timeout() => return failed("no answer within the timeout".into()),
        Err(err) => return failed(format!("could not send: {}", err.without_url())),
    };
    let status = response.status();
    let retry_after = crate::retry::retry_after(response.headers());
    let error = if status.is_success() {
        None
    } else {
        let text = start_of(response).await;
        Some(format!(
            "HTTP {}: {}",
            status.as_u16(),
            text.chars().take(ERROR_CHARS).collect::<String>()
        ))
    };
    Answer {
        http_status: Some(i32::from(status.as_u16())),
        delivered: status.is_success(),
        retry_after,
        error,
        latency: started.elapsed(),
    }
}

/// The first bytes of an answer's body, never the whole of it: a receiver
/// may send any amount.
async fn start_of(response: reqwest::Response) -> String {
    let mut body = response.bytes_stream();
    let mut kept = Vec::new();
    while kept.len() < ERROR_CHARS * 4 {
        match body.next().await {
            Some(Ok(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    aws_lc_rs::rand::fill(&mut bytes).map_or(0.5, |()| {
        f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
    })
}

async fn record(
    pool: &Pool,
    settings: &WebhookSettings,
    metrics: &AttemptMetrics,
    m: &Taken,
    answer: &Answer,
) -> anyhow::Result<()> {
    let give_up = Duration::from_secs(u64::from(settings.give_up_after_hours) * 3600);
    let age = Duration::from_secs_f64(m.age.max(0.0));
    // 5 s doubling to 3 hours apart, ±20%: about 19 attempts in a day.
    let backoff = Backoff {
        first: Duration::from_secs(5),
        cap: Duration::from_secs(3 * 3600),
        give_up_after: give_up,
        spread: 0.2,
    };
    let retry = (!answer.delivered)
        .then(|| backoff.retry_in(m.attempts, answer.retry_after, age, jitter()))
        .flatten();
    let (status, outcome) = match (answer.delivered, retry) {
        (true, _) => ("delivered", "delivered"),
        (false, Some(_)) => ("pending", "retry"),
        (false, None) => ("failed", "gave_up"),
    };
    metrics.webhook(outcome);
    let retry_secs = retry.map(|wait| wait.as_secs_f64());
    let latency_ms = i32::try_from(answer.latency.as_millis()).unwrap_or(i32::MAX);
    tracing::info!(
        message = %m.id, endpoint = %m.endpoint_id, attempt = m.attempts, outcome,
        http_status = answer.http_status, latency_ms, "webhook attempt"
    );
    let mut conn = pool.get().await?;
    conn.transaction::<(), diesel::result::Error, _>(async |conn| {
        // Only while the lease is still this attempt's.
        let fenced = diesel::sql_query(
            "UPDATE webhook_messages
             SET status = $3, updated_at = now(),
                 next_attempt_at = now() + make_interval(secs => coalesce($4, 0))
             WHERE id = $1 AND attempts = $2 AND status = 'pending'",
        )
        .bind::<diesel::sql_types::Uuid, _>(m.id)
        .bind::<Int4, _>(m.attempts)
        .bind::<Text, _>(status)
        .bind::<Nullable<Double>, _>(retry_secs)
        .execute(conn)
        .await?;
        if fenced == 0 {
            return Ok(());
        }
        diesel::sql_query(
            "INSERT INTO webhook_attempts (message_id, attempt, endpoint_id, http_status,
                                           latency_ms, outcome, error, retry_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))",
        )
        .bind::<diesel::sql_types::Uuid, _>(m.id)
        .bind::<Int4, _>(m.attempts)
        .bind::<diesel::sql_types::Uuid, _>(m.endpoint_id)
        .bind::<Nullable<Int4>, _>(answer.http_status)
        .bind::<Int4, _>(latency_ms)
        .bind::<Text, _>(outcome)
        .bind::<Nullable<Text>, _>(&answer.error)
        .bind::<Nullable<Double>, _>(retry_secs)
        .execute(conn)
        .await?;
        if answer.delivered {
            diesel::sql_query(
                "UPDATE webhook_endpoints SET failing_since = NULL
                 WHERE id = $1 AND failing_since IS NOT NULL",
            )
            .bind::<diesel::sql_types::Uuid, _>(m.endpoint_id)
            .execute(conn)
            .await?;
        } else {
            failed_again(conn, m, give_up).await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Marks the endpoint failing; after the give-up window of failures, turns
/// it off and tells the clinic's admins (once: only the update that turns
/// it off does).
async fn failed_again(
    conn: &mut AsyncPgConnection,
    m: &Taken,
    give_up: Duration,
) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE webhook_endpoints SET failing_since = now()
         WHERE id = $1 AND failing_since IS NULL",
    )
    .bind::<diesel::sql_types::Uuid, _>(m.endpoint_id)
    .execute(conn)
    .await?;
    let turned_off = diesel::sql_query(
        "UPDATE webhook_endpoints
         SET enabled = false, disabled_reason = 'failing', updated_at = now()
         WHERE id = $1 AND enabled AND failing_since <= now() - make_interval(secs => $2)",
    )
    .bind::<diesel::sql_types::Uuid, _>(m.endpoint_id)
    .bind::<Double, _>(give_up.as_secs_f64())
    .execute(conn)
    .await?;
    if turned_off == 1 {
        let told = notice(
            Audience::Clinic(m.clinic_id),
            NoticeKind::WebhookDisabled,
            "A webhook endpoint was turned off",
            "Deliveries to one of your clinic's webhook endpoints failed for a day, so Spotter stopped sending to it. Fix the receiver, then turn it back on.".to_owned(),
            json!({ "webhook_id": m.endpoint_id, "clinic_id": m.clinic_id }),
        );
        // After the endpoint's update, which no turn's holder waits for: the
        // consumer's webhook messages only key-share the endpoint row.
        let turn = crate::store::take_turn(conn).await?;
        crate::store::store(conn, &turn, &[told], &[]).await?;
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Wait {
    #[diesel(sql_type = Nullable<Double>)]
    seconds: Option<f64>,
}

async fn until_next(pool: &Pool) -> anyhow::Result<Option<Duration>> {
    let mut conn = pool.get().await?;
    let wait: Wait = diesel::sql_query(
        "SELECT extract(epoch FROM min(m.next_attempt_at) - now())::float8 AS seconds
         FROM webhook_messages m JOIN webhook_endpoints e ON e.id = m.endpoint_id AND e.enabled
         WHERE m.status = 'pending'",
    )
    .get_result(&mut conn)
    .await?;
    Ok(wait.seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

/// Delivers webhook messages as they fall due until `shutdown`.
pub async fn run(
    pool: Pool,
    database_url: secrecy::SecretString,
    settings: WebhookSettings,
    client: reqwest::Client,
    metrics: AttemptMetrics,
    shutdown: CancellationToken,
) {
    let due = Webhooks {
        pool,
        client,
        settings,
        metrics,
        shutdown: shutdown.clone(),
    };
    run_when_due("webhooks", database_url, CHANNEL, shutdown, due).await;
}

struct Webhooks {
    pool: Pool,
    client: reqwest::Client,
    settings: WebhookSettings,
    metrics: AttemptMetrics,
    shutdown: CancellationToken,
}

impl Webhooks {
    /// Sends what is due, up to `IN_FLIGHT` attempts at once. A slot that
    /// frees takes the next due message straight away, so a receiver that
    /// answers slowly (up to the timeout) holds its own slot, not the next
    /// message of every other endpoint. Returns once nothing is due and
    /// nothing is in flight, or at shutdown (an attempt cut off then is
    /// sent again when its lease runs out).
    async fn send_while_due(&self) -> anyhow::Result<()> {
        let mut in_flight = tokio::task::JoinSet::new();
        loop {
            let room = IN_FLIGHT - i64::try_from(in_flight.len())?;
            let taken = if room > 0 {
                match take(&self.pool, room).await {
                    Ok(taken) => taken,
                    Err(err) => {
                        // Attempts already sent finish and are recorded
                        // before the error is reported.
                        while in_flight.join_next().await.is_some() {}
                        return Err(err);
                    }
                }
            } else {
                Vec::new()
            };
            for m in taken {
                let (pool, client) = (self.pool.clone(), self.client.clone());
                let (settings, metrics) = (self.settings, self.metrics.clone());
                in_flight.spawn(async move {
                    let answer = attempt(&client, &settings, &m).await;
                    if let Err(err) = record(&pool, &settings, &metrics, &m, &answer).await {
                        // The lease runs out and the message is sent again.
                        tracing::warn!(message = %m.id, error = %err, "recording a webhook attempt failed");
                    }
                });
            }
            if in_flight.is_empty() {
                return Ok(());
            }
            let room_left = in_flight.len() < usize::try_from(IN_FLIGHT)?;
            tokio::select! {
                _ = in_flight.join_next() => {}
                // Messages planned meanwhile (their wake-up is not heard
                // while this runs) take a free slot within `RECHECK`.
                () = tokio::time::sleep(RECHECK), if room_left => {}
                () = self.shutdown.cancelled() => return Ok(()),
            }
        }
    }
}

impl DueWork for Webhooks {
    fn work(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(self.send_while_due())
    }

    fn until_next(&self) -> BoxFuture<'_, anyhow::Result<Option<Duration>>> {
        Box::pin(until_next(&self.pool))
    }
}
