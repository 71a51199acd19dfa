//! The push queue: deliveries are planned in the notification's transaction
//! and sent by whichever replica takes them first (`SKIP LOCKED`). Taking a
//! delivery leases it for a while instead of holding a lock through the
//! provider's answer, so a replica that dies mid-send only delays it.

use super::{Answer, Providers, PushMessage, Verdict};
use crate::schema::{devices, push_attempts, push_deliveries};
use crate::wake::{DueWork, run_when_due};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use spotter_db::Pool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const CHANNEL: &str = "spotter_push";
/// Deliveries taken per round, and how many of them are in flight at once.
const BATCH: i64 = 64;
const IN_FLIGHT: usize = 16;
/// After this many attempts a delivery is given up (`failed`).
pub const MAX_ATTEMPTS: i32 = 8;
/// A `Retry-After` longer than this is not honoured to the letter.
const LONGEST_WAIT: Duration = Duration::from_secs(3600);

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
    // The platform → provider mapping is the one in `Providers::for_platform`.
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
    .bind::<Array<Text>, _>(platforms)
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
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = Int4)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    notification_id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Jsonb)]
    data: serde_json::Value,
    /// None when the device was removed or now belongs to someone else.
    #[diesel(sql_type = Nullable<Text>)]
    token: Option<String>,
}

async fn take_due(pool: &Pool) -> anyhow::Result<Vec<Taken>> {
    let mut conn = pool.get().await?;
    Ok(diesel::sql_query(
        "WITH taken AS (
             UPDATE push_deliveries
             SET attempts = attempts + 1, updated_at = now(),
                 next_attempt_at = now() + interval '2 minutes'
             WHERE id IN (
                 SELECT id FROM push_deliveries
                 WHERE status = 'pending' AND next_attempt_at <= now()
                 ORDER BY next_attempt_at LIMIT $1
                 FOR UPDATE SKIP LOCKED)
             RETURNING id, notification_id, device_id, provider, attempts)
         SELECT t.id, t.device_id, t.provider, t.attempts, n.id AS notification_id,
                n.kind, n.title, n.body, n.data, d.token
         FROM taken t
         JOIN notifications n ON n.id = t.notification_id
         LEFT JOIN devices d ON d.id = t.device_id AND d.user_id = n.recipient_id",
    )
    .bind::<BigInt, _>(BATCH)
    .load(&mut conn)
    .await?)
}

/// Sends every delivery due now. Returns how many were attempted.
pub async fn send_due(pool: &Pool, providers: &Providers) -> anyhow::Result<usize> {
    let taken = take_due(pool).await?;
    let count = taken.len();
    futures_util::stream::iter(taken)
        .for_each_concurrent(IN_FLIGHT, |delivery| async move {
            let answer = attempt(providers, &delivery).await;
            if let Err(err) = record(pool, &delivery, &answer).await {
                // The lease runs out and the delivery is tried again.
                tracing::warn!(delivery = %delivery.id, error = %err, "recording a push attempt failed");
            }
        })
        .await;
    Ok(count)
}

async fn attempt(providers: &Providers, delivery: &Taken) -> Answer {
    let Some(token) = &delivery.token else {
        return Answer {
            verdict: Verdict::DeviceGone,
            http_status: None,
            reason: Some("device removed or signed in as someone else".into()),
        };
    };
    let Some(provider) = providers.by_name(&delivery.provider) else {
        return Answer::unreachable(format!("push.{} is not configured here", delivery.provider));
    };
    let message = PushMessage::new(
        delivery.notification_id,
        &delivery.kind,
        &delivery.title,
        &delivery.body,
        &delivery.data,
    );
    provider.send(token, &message).await
}

/// When to try again, or None to give up.
fn next_attempt(
    attempts: i32,
    after: Option<Duration>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if attempts >= MAX_ATTEMPTS {
        return None;
    }
    let wait = after.map_or_else(|| backoff(attempts), |after| after.min(LONGEST_WAIT));
    Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX))
}

/// 5 s, 10 s, 20 s … up to 10 minutes.
fn backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(7);
    (Duration::from_secs(5) * 2u32.pow(doublings)).min(Duration::from_secs(600))
}

async fn record(pool: &Pool, delivery: &Taken, answer: &Answer) -> anyhow::Result<()> {
    let now = Utc::now();
    let (status, outcome, retry_at) = match answer.verdict {
        Verdict::Delivered => ("delivered", "delivered", None),
        Verdict::DeviceGone => ("dropped", "device_gone", None),
        Verdict::Refused => ("failed", "refused", None),
        Verdict::Retry { after } => match next_attempt(delivery.attempts, after, now) {
            Some(at) => ("pending", "retry", Some(at)),
            None => ("failed", "retry", None),
        },
    };
    tracing::info!(
        delivery = %delivery.id,
        provider = %delivery.provider,
        attempt = delivery.attempts,
        outcome,
        http_status = answer.http_status,
        reason = answer.reason.as_deref().unwrap_or(""),
        "push attempt"
    );
    let mut conn = pool.get().await?;
    conn.transaction::<(), diesel::result::Error, _>(async |conn| {
        diesel::insert_into(push_attempts::table)
            .values((
                push_attempts::delivery_id.eq(delivery.id),
                push_attempts::attempt.eq(delivery.attempts),
                push_attempts::device_id.eq(delivery.device_id),
                push_attempts::provider.eq(&delivery.provider),
                push_attempts::outcome.eq(outcome),
                push_attempts::http_status.eq(answer.http_status.map(i32::from)),
                push_attempts::reason.eq(&answer.reason),
                push_attempts::attempted_at.eq(now),
                push_attempts::retry_at.eq(retry_at),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
        diesel::update(push_deliveries::table.find(delivery.id))
            .set((
                push_deliveries::status.eq(status),
                push_deliveries::next_attempt_at.eq(retry_at.unwrap_or(now)),
                push_deliveries::updated_at.eq(now),
            ))
            .execute(conn)
            .await?;
        if answer.verdict == Verdict::DeviceGone && delivery.token.is_some() {
            // The provider says this token is dead: no more pushes to it.
            diesel::delete(
                devices::table
                    .filter(devices::id.eq(delivery.device_id))
                    .filter(devices::token.nullable().eq(&delivery.token)),
            )
            .execute(conn)
            .await?;
        }
        Ok(())
    })
    .await?;
    Ok(())
}

async fn next_due(pool: &Pool) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut conn = pool.get().await?;
    Ok(push_deliveries::table
        .filter(push_deliveries::status.eq("pending"))
        .order(push_deliveries::next_attempt_at.asc())
        .select(push_deliveries::next_attempt_at)
        .first(&mut conn)
        .await
        .optional()?)
}

/// Sends pushes as they fall due until `shutdown`.
pub async fn run(
    pool: Pool,
    database_url: secrecy::SecretString,
    providers: Providers,
    shutdown: CancellationToken,
) {
    let due = Pushes { pool, providers };
    run_when_due("push", database_url, CHANNEL, shutdown, due).await;
}

struct Pushes {
    pool: Pool,
    providers: Providers,
}

impl DueWork for Pushes {
    fn work(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move {
            // A full batch may mean more are waiting.
            while send_due(&self.pool, &self.providers).await? == usize::try_from(BATCH)? {}
            Ok(())
        })
    }

    fn next_due(&self) -> BoxFuture<'_, anyhow::Result<Option<DateTime<Utc>>>> {
        Box::pin(next_due(&self.pool))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_honoured_and_back_off_doubles_to_a_cap() {
        let now = Utc::now();
        let at = next_attempt(1, Some(Duration::from_secs(30)), now);
        assert_eq!(at, Some(now + chrono::Duration::seconds(30)));
        let capped = next_attempt(1, Some(Duration::from_secs(86_400)), now);
        assert_eq!(capped, Some(now + chrono::Duration::hours(1)));
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(3), Duration::from_secs(20));
        assert_eq!(backoff(20), Duration::from_secs(600));
        assert_eq!(next_attempt(MAX_ATTEMPTS, None, now), None);
    }
}
