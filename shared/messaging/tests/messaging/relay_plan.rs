//! The relay's round costs what is pending, not what the outbox retains:
//! published rows are kept for days (for replays), and a round that walked
//! them to find the few pending ones would grow slower all week. (Ordered by
//! `seq` instead of `seq + 0`, six rounds here read 100,031 rows through the
//! primary key.)

use crate::support::{CONSUMER, Harness, Options};
use spotter_db::testing::plans::plans_of;
use spotter_messaging::RelayConfig;
use spotter_messaging::outbox::mark_published;

const RETAINED: i64 = 20_000;
const ROUNDS: i64 = 6;

/// The outbox's primary key scans, rows read through it, and rows read by
/// sequential scans, as the statistics views show them.
async fn reads(h: &Harness) -> (i64, i64, i64) {
    let scans = h
        .count("SELECT idx_scan AS n FROM pg_stat_user_indexes WHERE indexrelname = 'outbox_pkey'")
        .await;
    let through_key = h
        .count(
            "SELECT idx_tup_read AS n FROM pg_stat_user_indexes \
             WHERE indexrelname = 'outbox_pkey'",
        )
        .await;
    let scanned = h
        .count("SELECT seq_tup_read AS n FROM pg_stat_user_tables WHERE relname = 'outbox'")
        .await;
    (scans, through_key, scanned)
}

#[tokio::test]
async fn a_relay_round_never_reads_the_published_rows_the_outbox_retains() {
    let h = Harness::with(Options {
        relays: 0,
        consume: false,
        ..Options::default()
    })
    .await;
    // The plan every connection keeps for the relay's prepared query after
    // its first five runs, from the first run on: the one that matters.
    h.execute(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_generic_plan', \
         current_database()); END $$",
    )
    .await;
    h.execute(&format!(
        "INSERT INTO outbox (message_id, routing_key, message_type, correlation_id, payload, \
                             published_at) \
         SELECT gen_random_uuid(), 'old.v1', 'old', 'old-' || i, '\\x00', now() \
         FROM generate_series(1, {RETAINED}) i"
    ))
    .await;
    // Vacuumed but not analyzed: statistics that lag the table's growth, as
    // they do between autovacuum's runs. The planner then guesses how many
    // rows are pending, and with a guess the primary key's order is tempting.
    h.execute("VACUUM outbox").await;
    // Nothing the set-up did reads through the primary key or scans.
    let before = reads(&h).await;

    h.start_relay(RelayConfig::default());
    for round in 1..=ROUNDS {
        h.enqueue(&format!("new-{round}"), &[b"event"]).await;
        // Watched on the broker: a query of ours on the outbox would be
        // counted with the relay's reads.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(45);
        while i64::from(h.ready_messages(CONSUMER).await) < round {
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round} never published"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    // Each round marks its rows through the primary key: once all those
    // scans are counted, so is everything else the rounds read.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(45);
    let after = loop {
        let now = reads(&h).await;
        if now.0 >= before.0 + ROUNDS {
            break now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the relay's reads never reached the statistics"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let (through_key, scanned) = (after.1 - before.1, after.2 - before.2);
    assert!(
        through_key < RETAINED / 10 && scanned < RETAINED / 10,
        "{ROUNDS} rounds read {through_key} rows through the primary key and \
         {scanned} by scanning, with {RETAINED} published rows retained"
    );
}

/// A round marks the few rows the broker confirmed. Planned for those few
/// values, the update always looked cheaper than the plan kept for any
/// array, so it was planned afresh every round; it must keep one plan.
#[tokio::test]
async fn marking_a_rounds_rows_published_keeps_one_plan() {
    let h = Harness::with(Options {
        relays: 0,
        consume: false,
        ..Options::default()
    })
    .await;
    // A week's retained rows and the statistics that know them.
    h.execute(&format!(
        "INSERT INTO outbox (message_id, routing_key, message_type, correlation_id, payload, \
                             published_at) \
         SELECT gen_random_uuid(), 'old.v1', 'old', 'old-' || i, '\\x00', \
                CASE WHEN i > {RETAINED} - 40 THEN NULL ELSE now() END \
         FROM generate_series(1, {RETAINED}) i"
    ))
    .await;
    h.execute("ANALYZE outbox").await;
    let mut conn = h.connection().await;
    let mut pending = pending_seqs(&mut conn).await.into_iter();
    // Rounds of one to three rows, as a relay under a light load marks them.
    for size in [1, 2, 3].into_iter().cycle().take(12) {
        let round: Vec<i64> = pending.by_ref().take(size).collect();
        let marked = mark_published(&mut conn, &round).await.unwrap();
        assert_eq!(marked, size);
    }
    let marking = plans_of(&mut conn, "SET published_at").await.unwrap();
    assert!(
        marking.kept > 0,
        "planned afresh on all {} rounds, never kept a plan",
        marking.planned_afresh
    );
}

async fn pending_seqs(conn: &mut diesel_async::AsyncPgConnection) -> Vec<i64> {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Seq {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        seq: i64,
    }
    let pending: Vec<Seq> =
        diesel::sql_query("SELECT seq FROM outbox WHERE published_at IS NULL ORDER BY seq")
            .load(conn)
            .await
            .unwrap();
    pending.into_iter().map(|row| row.seq).collect()
}
