//! The push queue: deliveries are planned in the notification's transaction
//! and sent by whichever replica takes them first (`SKIP LOCKED`), one worker
//! per provider. Taking a delivery leases it instead of holding a lock
//! through the provider's answer, so a replica that dies mid-send only delays
//! it; an attempt is cut off well inside its lease, and its outcome is
//! written only while the lease is still that attempt's (a fenced write), so
//! a slow attempt can never overwrite a newer one.
//!
//! Times are the database's (`now()`), whatever the replicas' clocks say.

use super::policy::{Skip, outcome};
use super::{Answer, Provider, Providers, PushMessage, Verdict};
use crate::attempt_metrics::AttemptMetrics;
use crate::notices::NoticeKind;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Double, Int4, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use spotter_db::wake::{DueWork, run_when_due};
use spotter_db::{Pool, prepared};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A push that finished (delivered, failed or dropped) is the on-call
/// engineer's record for a month, then goes with its attempts (cascade).
/// Pending ones are never pruned.
pub const FINISHED_PUSHES: spotter_db::retention::Rule = spotter_db::retention::Rule {
    table: "push_deliveries",
    timestamp: "updated_at",
    keep: std::time::Duration::from_secs(30 * 24 * 3600),
    only_when: Some("status <> 'pending'"),
};

const CHANNEL: &str = "spotter_push";
/// Deliveries one worker takes and sends at once.
const IN_FLIGHT: i64 = 16;
/// How long a taken delivery stays the taker's (the `interval` in `take`).
const LEASE: Duration = Duration::from_secs(120);
/// An attempt that takes longer is cut off, well inside the lease.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(45);
/// Plans a push to each phone of each notification's recipient, on the
/// platforms push reaches, unless the recipient turned that kind off.
pub async fn plan(
    conn: &mut AsyncPgConnection,
    notification_ids: &[Uuid],
    platforms: &[&str],
) -> QueryResult<()> {
    if notification_ids.is_empty() || platforms.is_empty() {
        return Ok(());
    }
    prepared(
        diesel::sql_query(
            "INSERT INTO push_deliveries (id, notification_id, device_id, provider)
         SELECT gen_random_uuid(), n.id, d.id,
                CASE d.platform WHEN 'ios' THEN 'apns' ELSE 'fcm' END
         FROM notifications n JOIN devices d ON d.user_id = n.recipient_id
         WHERE n.id = ANY($1) AND d.platform = ANY($2)
           AND NOT EXISTS (
               SELECT 1 FROM notification_preferences p
               WHERE p.user_id = n.recipient_id AND p.kind = n.kind AND NOT p.push)",
        )
        .bind::<Array<diesel::sql_types::Uuid>, _>(notification_ids)
        .bind::<Array<Text>, _>(platforms),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A delivery taken for one attempt, with what it needs to be sent.
#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    device_id: Uuid,
    #[diesel(sql_type = Int4)]
    attempts: i32,
    /// Seconds since the delivery was planned.
    #[diesel(sql_type = Double)]
    age: f64,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    notification_id: Uuid,
    #[diesel(sql_type = Text)]
    kind: NoticeKind,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Jsonb)]
    data: serde_json::Value,
    /// None when the device was removed or now belongs to someone else.
    #[diesel(sql_type = Nullable<Text>)]
    token: Option<String>,
    /// False once the recipient turned this kind off.
    #[diesel(sql_type = Bool)]
    wanted: bool,
}

async fn take(pool: &Pool, provider: &str) -> anyhow::Result<Vec<Taken>> {
    let mut conn = pool.get().await?;
    Ok(diesel::sql_query(
        "WITH taken AS (
             UPDATE push_deliveries
             SET attempts = attempts + 1, updated_at = now(),
                 next_attempt_at = now() + make_interval(secs => $3)
             WHERE id IN (
                 SELECT id FROM push_deliveries
                 WHERE status = 'pending' AND provider = $2 AND next_attempt_at <= now()
                 ORDER BY next_attempt_at LIMIT $1
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, notification_id, device_id, attempts, created_at)
         SELECT t.id, t.device_id, t.attempts,
                extract(epoch FROM now() - t.created_at)::float8 AS age,
                n.id AS notification_id, n.kind, n.title, n.body, n.data, d.token,
                NOT EXISTS (
                    SELECT 1 FROM notification_preferences p
                    WHERE p.user_id = n.recipient_id AND p.kind = n.kind AND NOT p.push
                ) AS wanted
         FROM taken t
         JOIN notifications n ON n.id = t.notification_id
         LEFT JOIN devices d ON d.id = t.device_id AND d.user_id = n.recipient_id",
    )
    .bind::<diesel::sql_types::BigInt, _>(IN_FLIGHT)
    .bind::<Text, _>(provider)
    .bind::<Double, _>(LEASE.as_secs_f64())
    .load(&mut conn)
    .await?)
}

/// Sends what is due for `provider`, until nothing is or `shutdown`.
/// Returns how many were attempted in the last round.
pub async fn send_due(
    pool: &Pool,
    provider: &dyn Provider,
    metrics: &AttemptMetrics,
    shutdown: &CancellationToken,
) -> anyhow::Result<usize> {
    let taken = take(pool, provider.name()).await?;
    let count = taken.len();
    let sends = futures_util::stream::iter(taken).for_each_concurrent(None, |delivery| async move {
        let answer = attempt(provider, &delivery).await;
        if let Err(err) = record(pool, provider.name(), metrics, &delivery, &answer).await {
            // The lease runs out and the delivery is tried again.
            tracing::warn!(delivery = %delivery.id, error = %err, "recording a push attempt failed");
        }
    });
    tokio::select! {
        // Unrecorded attempts are taken again when their lease runs out.
        () = shutdown.cancelled() => Ok(0),
        () = sends => Ok(count),
    }
}

async fn attempt(provider: &dyn Provider, delivery: &Taken) -> Result<Answer, Skip> {
    let Some(token) = &delivery.token else {
        return Err(Skip::DeviceGone);
    };
    if !delivery.wanted {
        return Err(Skip::TurnedOff);
    }
    let message = PushMessage::new(
        delivery.notification_id,
        delivery.kind,
        &delivery.title,
        &delivery.body,
        &delivery.data,
    );
    Ok(
        tokio::time::timeout(ATTEMPT_LIMIT, provider.send(token, &message))
            .await
            .unwrap_or_else(|_| Answer::unreachable("no answer in time")),
    )
}

async fn record(
    pool: &Pool,
    provider: &str,
    metrics: &AttemptMetrics,
    delivery: &Taken,
    answer: &Result<Answer, Skip>,
) -> anyhow::Result<()> {
    let age = Duration::from_secs_f64(delivery.age.max(0.0));
    let (status, outcome, retry) = outcome(delivery.attempts, age, answer);
    metrics.push(provider, outcome);
    let (http_status, reason) = match answer {
        Ok(answer) => (answer.http_status.map(i32::from), answer.reason.clone()),
        Err(Skip::DeviceGone) => (
            None,
            Some("device removed or signed in as someone else".into()),
        ),
        Err(Skip::TurnedOff) => (None, Some("the recipient turned this kind off".into())),
    };
    tracing::info!(
        delivery = %delivery.id,
        provider,
        attempt = delivery.attempts,
        outcome,
        http_status,
        reason = reason.as_deref().unwrap_or(""),
        "push attempt"
    );
    let retry_secs = retry.map(|wait| wait.as_secs_f64());
    let mut conn = pool.get().await?;
    conn.transaction::<(), diesel::result::Error, _>(async |conn| {
        // Only while the lease is still this attempt's: a newer attempt's
        // outcome is never overwritten.
        let fenced = diesel::sql_query(
            "UPDATE push_deliveries
             SET status = $3, updated_at = now(),
                 next_attempt_at = now() + make_interval(secs => coalesce($4, 0))
             WHERE id = $1 AND attempts = $2 AND status = 'pending'",
        )
        .bind::<diesel::sql_types::Uuid, _>(delivery.id)
        .bind::<Int4, _>(delivery.attempts)
        .bind::<Text, _>(status)
        .bind::<Nullable<Double>, _>(retry_secs)
        .execute(conn)
        .await?;
        if fenced == 0 {
            return Ok(());
        }
        diesel::sql_query(
            "INSERT INTO push_attempts (delivery_id, attempt, device_id, provider, outcome,
                                        http_status, reason, attempted_at, retry_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, now(),
                     now() + make_interval(secs => $8))",
        )
        .bind::<diesel::sql_types::Uuid, _>(delivery.id)
        .bind::<Int4, _>(delivery.attempts)
        .bind::<diesel::sql_types::Uuid, _>(delivery.device_id)
        .bind::<Text, _>(provider)
        .bind::<Text, _>(outcome)
        .bind::<Nullable<Int4>, _>(http_status)
        .bind::<Nullable<Text>, _>(&reason)
        .bind::<Nullable<Double>, _>(retry_secs)
        .execute(conn)
        .await?;
        let provider_says_gone = matches!(answer, Ok(a) if a.verdict == Verdict::DeviceGone);
        if provider_says_gone {
            // No more pushes to a token the provider retired.
            diesel::sql_query("DELETE FROM devices WHERE id = $1 AND token = $2")
                .bind::<diesel::sql_types::Uuid, _>(delivery.device_id)
                .bind::<Nullable<Text>, _>(&delivery.token)
                .execute(conn)
                .await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct Wait {
    #[diesel(sql_type = Nullable<Double>)]
    seconds: Option<f64>,
}

/// How long until `provider`'s next pending delivery is due, by the
/// database's clock.
async fn until_next(pool: &Pool, provider: &str) -> anyhow::Result<Option<Duration>> {
    let mut conn = pool.get().await?;
    let wait: Wait = diesel::sql_query(
        "SELECT extract(epoch FROM min(next_attempt_at) - now())::float8 AS seconds
         FROM push_deliveries WHERE status = 'pending' AND provider = $1",
    )
    .bind::<Text, _>(provider)
    .get_result(&mut conn)
    .await?;
    Ok(wait.seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

/// Sends pushes as they fall due until `shutdown`: one worker per configured
/// provider, so a provider that is down holds up only its own pushes.
pub async fn run(
    pool: Pool,
    database_url: secrecy::SecretString,
    providers: Providers,
    metrics: AttemptMetrics,
    shutdown: CancellationToken,
) {
    let workers = providers.each().map(|provider| {
        let due = Pushes {
            pool: pool.clone(),
            provider: provider.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
        };
        run_when_due("push", database_url.clone(), CHANNEL, shutdown.clone(), due)
    });
    futures_util::future::join_all(workers).await;
}

struct Pushes {
    pool: Pool,
    provider: Arc<dyn Provider>,
    metrics: AttemptMetrics,
    shutdown: CancellationToken,
}

impl DueWork for Pushes {
    fn work(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            // A full round may mean more are waiting.
            while send_due(
                &self.pool,
                self.provider.as_ref(),
                &self.metrics,
                &self.shutdown,
            )
            .await?
                == usize::try_from(IN_FLIGHT)?
            {}
            Ok(())
        })
    }

    fn until_next(&self) -> BoxFuture<'_, anyhow::Result<Option<Duration>>> {
        Box::pin(until_next(&self.pool, self.provider.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A slow attempt whose lease ran out, so that another replica took the
    /// delivery again, must not overwrite what that newer attempt recorded.
    #[tokio::test]
    async fn a_stale_attempt_never_overwrites_a_newer_one() {
        #![allow(clippy::unwrap_used)]
        let dirs = spotter_service::testing::migration_dirs("notification");
        let db = spotter_db::testing::TestDatabase::create("notification", &dirs)
            .await
            .unwrap();
        let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
        let mut conn = pool.get().await.unwrap();
        let (notification, delivery, device) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        for sql in [
            format!(
                "INSERT INTO notifications (id, recipient_id, kind, title, body) \
                 VALUES ('{notification}', gen_random_uuid(), 'appointment_booked', 't', 'b')"
            ),
            format!(
                "INSERT INTO push_deliveries (id, notification_id, device_id, provider, attempts) \
                 VALUES ('{delivery}', '{notification}', '{device}', 'fcm', 2)"
            ),
        ] {
            diesel::sql_query(sql).execute(&mut conn).await.unwrap();
        }
        drop(conn);
        // Attempt 1 answers late, after attempt 2 took the delivery.
        let stale = Taken {
            id: delivery,
            device_id: device,
            attempts: 1,
            age: 1.0,
            notification_id: notification,
            kind: NoticeKind::AppointmentBooked,
            title: "t".into(),
            body: "b".into(),
            data: serde_json::json!({}),
            token: Some("tok".into()),
            wanted: true,
        };
        let gone = Answer {
            verdict: Verdict::DeviceGone,
            http_status: Some(404),
            reason: None,
        };
        let metrics = AttemptMetrics::new().unwrap();
        record(&pool, "fcm", &metrics, &stale, &Ok(gone))
            .await
            .unwrap();
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            status: String,
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            recorded: i64,
        }
        let mut conn = pool.get().await.unwrap();
        let row: Row = diesel::sql_query(
            "SELECT status, (SELECT count(*) FROM push_attempts) AS recorded FROM push_deliveries",
        )
        .get_result(&mut conn)
        .await
        .unwrap();
        assert_eq!((row.status.as_str(), row.recorded), ("pending", 0));
        // The current attempt's outcome is written.
        let current = Taken {
            attempts: 2,
            ..stale
        };
        let delivered = Answer::delivered(200);
        record(&pool, "fcm", &metrics, &current, &Ok(delivered))
            .await
            .unwrap();
        let row: Row = diesel::sql_query(
            "SELECT status, (SELECT count(*) FROM push_attempts) AS recorded FROM push_deliveries",
        )
        .get_result(&mut conn)
        .await
        .unwrap();
        assert_eq!((row.status.as_str(), row.recorded), ("delivered", 1));
    }

    #[test]
    fn an_attempt_is_cut_off_well_inside_its_lease() {
        // Token fetch, send, and one renewal and resend each take at most
        // the HTTP client's 10 s timeout.
        assert!(ATTEMPT_LIMIT < LEASE / 2);
    }
}
