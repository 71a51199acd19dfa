//! Who may write a physio's diary now: a transaction-scoped advisory lock
//! per physio (docs/architecture.md, "Booking").
//!
//! Every writer of a diary (booking, the waitlist, a reschedule, new time
//! off, a deactivation) takes the physio's lock before writing, so an insert never waits on another
//! transaction's uncommitted row under the exclusion constraint (such waits
//! deadlock, and each deadlock costs the database's detection delay), and a
//! diary read after taking the lock is the whole truth. Bookings at different
//! physios never wait on each other. The exclusion constraint stays the last
//! word: a writer that took no lock still cannot double-book.

use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use spotter_db::prepared;
use uuid::Uuid;

/// Keeps diary locks apart from the other advisory locks in the database.
const DIARY_LOCK_SALT: i64 = 0x0044_6961_7279_0000;
/// Likewise for the per-referral lock.
const REFERRAL_LOCK_SALT: i64 = 0x0052_6566_0000_0000;

/// A lock key from the random half of a UUID v7 (two ids sharing a key
/// only take turns).
fn key(id: Uuid, salt: i64) -> i64 {
    let (_, random) = id.as_u64_pair();
    i64::from_ne_bytes(random.to_ne_bytes()) ^ salt
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Bool)]
    taken: bool,
}

/// Takes the physio's diary lock if it is free (or already ours); never waits.
pub async fn try_lock_physio(conn: &mut AsyncPgConnection, physio: Uuid) -> QueryResult<bool> {
    let row: Taken = prepared(
        diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS taken")
            .bind::<BigInt, _>(key(physio, DIARY_LOCK_SALT)),
    )
    .get_result(conn)
    .await?;
    Ok(row.taken)
}

/// Waits for the physio's diary lock. Returns false if the database chose
/// this transaction to break a deadlock (it may hold other diaries' locks):
/// the wait runs in a savepoint, so the transaction stays usable.
pub async fn lock_physio(conn: &mut AsyncPgConnection, physio: Uuid) -> QueryResult<bool> {
    let waited = conn
        .transaction(async |conn| {
            prepared(
                diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                    .bind::<BigInt, _>(key(physio, DIARY_LOCK_SALT)),
            )
            .execute(conn)
            .await
        })
        .await;
    match waited {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("deadlock detected") =>
        {
            Ok(false)
        }
        Err(err) => Err(err),
    }
}

/// Serialises a referral's request and its cancellation, which arrive on
/// different lanes (and replicas) at once: without it a cancellation could
/// miss a booking still being committed. (A waitlist retry holds the
/// request's row lock, which the cancellation's update waits for.)
pub async fn lock_referral(conn: &mut AsyncPgConnection, referral: Uuid) -> QueryResult<()> {
    prepared(
        diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
            .bind::<BigInt, _>(key(referral, REFERRAL_LOCK_SALT)),
    )
    .execute(conn)
    .await
    .map(|_| ())
}
