//! Notices into the inbox: one place writes them, for the event consumer
//! and the reminder worker alike, and plans their pushes in the same
//! transaction.

use crate::notices::{Audience, Notice};
use crate::push;
use crate::schema::notifications;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::prepared;
use uuid::Uuid;

/// One lock for every notification insert, held until commit: their `seq`
/// numbers (and ids) then become visible in increasing order, which is what
/// lets a live stream resume from the last number it sent without missing a
/// notification that a slower transaction committed later.
const ORDER_LOCK: i64 = 0x0053_706f_744e_6f74;
/// An event makes at most this many notices (one per party told), so their
/// inserts have a handful of texts and stay prepared; a reminder batch can
/// hold up to a hundred, whose texts would each stay prepared for the
/// connection's life, so those are parsed each time.
const PREPARED_UP_TO: usize = 4;

/// Takes this transaction's turn to write notifications (`ORDER_LOCK`),
/// held until it ends. Every transaction that stores notices takes it
/// before any row lock that another turn's holder may wait for: the event
/// consumer handles several events in one transaction
/// (`ConsumerSpec::batch`), so a turn taken after such row locks could
/// close a cycle with another transaction holding the turn and waiting for
/// those rows (the reminder worker's `FOR UPDATE`, say). The `Turn` it
/// returns is what `store` asks for, so no caller can store without it.
pub async fn take_turn(conn: &mut AsyncPgConnection) -> QueryResult<Turn> {
    prepared(
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<diesel::sql_types::BigInt, _>(ORDER_LOCK),
    )
    .execute(conn)
    .await?;
    Ok(Turn(()))
}

/// Proof that the transaction took its turn (`take_turn`); only that
/// function makes one.
pub struct Turn(());

/// Writes the notices to the inbox and plans their pushes, in the caller's
/// transaction, which has taken its `turn`.
pub async fn store(
    conn: &mut AsyncPgConnection,
    _turn: &Turn,
    made: &[Notice],
    push_platforms: &[&str],
) -> QueryResult<()> {
    if made.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = made.iter().map(|_| Uuid::now_v7()).collect();
    let rows: Vec<_> = made
        .iter()
        .zip(&ids)
        .map(|(n, id)| {
            let (recipient, clinic) = match n.to {
                Audience::User(user) => (Some(user), None),
                Audience::Clinic(clinic) => (None, Some(clinic)),
            };
            (
                notifications::id.eq(*id),
                notifications::recipient_id.eq(recipient),
                notifications::clinic_id.eq(clinic),
                notifications::kind.eq(n.kind.as_str()),
                notifications::title.eq(&n.title),
                notifications::body.eq(&n.body),
                notifications::data.eq(&n.data),
            )
        })
        .collect();
    let insert = diesel::insert_into(notifications::table).values(rows);
    if made.len() <= PREPARED_UP_TO {
        prepared(insert).execute(conn).await?;
    } else {
        insert.execute(conn).await?;
    }
    push::delivery::plan(conn, &ids, push_platforms).await
}
