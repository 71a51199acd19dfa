//! Reminders 24 h and 2 h before each booked appointment, to the trainer and
//! the physio. Stored (they survive restarts), moved when the appointment
//! moves, cancelled when it is cancelled, completed or missed, never sent for
//! a time already past, and sent once however many replicas run: a worker
//! takes due reminders with `FOR UPDATE SKIP LOCKED` and writes the
//! notification and `sent_at` in one transaction.

use crate::notices::{Audience, Notice, NoticeKind};
use crate::schema::reminders;
use crate::store::{store, take_turn};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::future::BoxFuture;
use serde_json::json;
use spotter_db::wake::{DueWork, run_when_due};
use spotter_db::{Pool, prepared};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const LEADS: [(&str, i64); 2] = [("24h", 24), ("2h", 2)];
const CHANNEL: &str = "spotter_reminders";

pub struct Appointment {
    pub appointment_id: Uuid,
    pub referral_id: Uuid,
    pub people: [Uuid; 2],
    pub starts_at: DateTime<Utc>,
}

/// Plans the reminders of a newly booked appointment (those still ahead), in
/// one statement: this runs for every appointment booked.
pub async fn schedule(conn: &mut AsyncPgConnection, a: &Appointment) -> QueryResult<()> {
    let now = Utc::now();
    let rows: Vec<_> = a
        .people
        .iter()
        .flat_map(|&person| {
            LEADS.map(|(lead, hours)| (person, lead, a.starts_at - Duration::hours(hours)))
        })
        // never for a time already past
        .filter(|&(_, _, due)| due > now)
        .map(|(person, lead, due)| {
            (
                reminders::id.eq(Uuid::now_v7()),
                reminders::appointment_id.eq(a.appointment_id),
                reminders::referral_id.eq(a.referral_id),
                reminders::recipient_id.eq(person),
                reminders::lead.eq(lead),
                reminders::starts_at.eq(a.starts_at),
                reminders::due_at.eq(due),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    // At most people × `LEADS` rows, so a handful of texts: keep them prepared.
    prepared(
        diesel::insert_into(reminders::table)
            .values(rows)
            .on_conflict_do_nothing(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The appointment moved: drop what is unsent and plan again from the new time.
pub async fn reschedule(conn: &mut AsyncPgConnection, a: &Appointment) -> QueryResult<()> {
    diesel::delete(
        reminders::table
            .filter(reminders::appointment_id.eq(a.appointment_id))
            .filter(reminders::sent_at.is_null()),
    )
    .execute(conn)
    .await?;
    schedule(conn, a).await
}

/// The appointment will not happen (or has happened): nothing more to remind.
pub async fn cancel(conn: &mut AsyncPgConnection, appointment_id: Uuid) -> QueryResult<()> {
    diesel::update(
        reminders::table
            .filter(reminders::appointment_id.eq(appointment_id))
            .filter(reminders::sent_at.is_null())
            .filter(reminders::cancelled_at.is_null()),
    )
    .set(reminders::cancelled_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = reminders)]
struct Due {
    id: Uuid,
    appointment_id: Uuid,
    referral_id: Uuid,
    recipient_id: Uuid,
    lead: String,
    starts_at: DateTime<Utc>,
}

fn notice(due: &Due) -> Notice {
    let (title, when) = if due.lead == "24h" {
        ("Appointment tomorrow", "tomorrow")
    } else {
        ("Appointment in 2 hours", "in 2 hours")
    };
    Notice {
        to: Audience::User(due.recipient_id),
        kind: NoticeKind::AppointmentReminder,
        title: title.to_owned(),
        body: format!(
            "Reminder: the physio appointment is {when}, at {}.",
            due.starts_at.format("%H:%M UTC")
        ),
        data: json!({"referral_id": due.referral_id, "appointment_id": due.appointment_id, "starts_at": due.starts_at}),
    }
}

/// Sends every reminder due now. Returns how many were sent.
pub async fn send_due(pool: &Pool, push_platforms: &[&str]) -> anyhow::Result<usize> {
    let mut conn = pool.get().await?;
    let sent = conn
        .transaction::<usize, diesel::result::Error, _>(async |conn| {
            // The turn before the rows (`store::take_turn`).
            let turn = take_turn(conn).await?;
            let due: Vec<Due> = reminders::table
                .filter(reminders::sent_at.is_null())
                .filter(reminders::cancelled_at.is_null())
                .filter(reminders::due_at.le(Utc::now()))
                .order(reminders::due_at.asc())
                .limit(100)
                .select(Due::as_select())
                .for_update()
                .skip_locked()
                .load(conn)
                .await?;
            let now = Utc::now();
            // A worker that was down past the start does not remind late.
            let (timely, late): (Vec<Due>, Vec<Due>) =
                due.into_iter().partition(|d| d.starts_at > now);
            let notices: Vec<Notice> = timely.iter().map(notice).collect();
            store(conn, &turn, &notices, push_platforms).await?;
            let timely_ids: Vec<Uuid> = timely.iter().map(|d| d.id).collect();
            let late_ids: Vec<Uuid> = late.iter().map(|d| d.id).collect();
            if !timely_ids.is_empty() {
                diesel::update(reminders::table.filter(reminders::id.eq_any(&timely_ids)))
                    .set(reminders::sent_at.eq(now))
                    .execute(conn)
                    .await?;
            }
            if !late_ids.is_empty() {
                diesel::update(reminders::table.filter(reminders::id.eq_any(&late_ids)))
                    .set(reminders::cancelled_at.eq(now))
                    .execute(conn)
                    .await?;
            }
            Ok(timely_ids.len())
        })
        .await?;
    Ok(sent)
}

async fn next_due(pool: &Pool) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut conn = pool.get().await?;
    Ok(reminders::table
        .filter(reminders::sent_at.is_null())
        .filter(reminders::cancelled_at.is_null())
        .order(reminders::due_at.asc())
        .select(reminders::due_at)
        .first(&mut conn)
        .await
        .optional()?)
}

/// Sends reminders as they fall due until `shutdown`.
pub async fn run(
    pool: Pool,
    database_url: secrecy::SecretString,
    push_platforms: Vec<&'static str>,
    shutdown: CancellationToken,
) {
    let due = Reminders {
        pool,
        push_platforms,
    };
    run_when_due("reminders", database_url, CHANNEL, shutdown, due).await;
}

struct Reminders {
    pool: Pool,
    push_platforms: Vec<&'static str>,
}

impl DueWork for Reminders {
    fn work(&self) -> BoxFuture<'_, anyhow::Result<()>> {
        Box::pin(async move { send_due(&self.pool, &self.push_platforms).await.map(drop) })
    }

    fn until_next(&self) -> BoxFuture<'_, anyhow::Result<Option<std::time::Duration>>> {
        Box::pin(async move {
            // Due times are the app's clock, as `send_due` compares them.
            let next = next_due(&self.pool).await?;
            Ok(next.map(|due| (due - Utc::now()).to_std().unwrap_or_default()))
        })
    }
}
