//! `upkeep::pass` does autovacuum's job for the service's own tables: a
//! table that grew is vacuumed (its pages then all-visible), one with many
//! changed rows analyzed (the planner then knows its size), but neither
//! more than once a minute unless the table doubled; one with many dead
//! rows is vacuumed at once; and a table kept is left alone until it
//! changes again.

use diesel::sql_types::{BigInt, Double, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::testing::TestDatabase;
use spotter_db::upkeep::{Kept, NAPTIME, pass};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(diesel::QueryableByName)]
struct Changes {
    #[diesel(sql_type = BigInt)]
    changed: i64,
    #[diesel(sql_type = BigInt)]
    dead: i64,
}

/// Waits until the statistics views show the table's writes (they lag the
/// commit by up to a second or so).
async fn until_counted(
    conn: &mut AsyncPgConnection,
    table: &str,
    at_least: impl Fn(&Changes) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        diesel::sql_query("SELECT pg_stat_force_next_flush()")
            .execute(conn)
            .await
            .unwrap();
        let seen: Changes = diesel::sql_query(
            "SELECT n_mod_since_analyze AS changed, n_dead_tup AS dead \
             FROM pg_stat_user_tables WHERE relname = $1",
        )
        .bind::<Text, _>(table)
        .get_result(conn)
        .await
        .unwrap();
        if at_least(&seen) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the writes never reached the statistics"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[derive(diesel::QueryableByName)]
struct Size {
    #[diesel(sql_type = Double)]
    rows: f64,
}

async fn planner_believes(conn: &mut AsyncPgConnection) -> f64 {
    let size: Size =
        diesel::sql_query("SELECT reltuples::float8 AS rows FROM pg_class WHERE relname = 'kept'")
            .get_result(conn)
            .await
            .unwrap();
    size.rows
}

async fn all_visible_pages(conn: &mut AsyncPgConnection) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Visible {
        #[diesel(sql_type = BigInt)]
        pages: i64,
    }
    let visible: Visible = diesel::sql_query(
        "SELECT relallvisible::bigint AS pages FROM pg_class WHERE relname = 'kept'",
    )
    .get_result(conn)
    .await
    .unwrap();
    visible.pages
}

#[tokio::test]
async fn each_table_is_kept_by_autovacuums_rules_for_inserted_changed_and_dead_rows() {
    let migrations = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let db = TestDatabase::create("db", &[migrations]).await.unwrap();
    let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
    let mut conn = pool.get().await.unwrap();
    // Autovacuum off for this table whatever the server says, so it is
    // this pass that keeps it, here as on a machine where autovacuum runs.
    diesel::sql_query("CREATE TABLE kept (id int) WITH (autovacuum_enabled = false)")
        .execute(&mut conn)
        .await
        .unwrap();
    diesel::sql_query("INSERT INTO kept SELECT generate_series(1, 1500)")
        .execute(&mut conn)
        .await
        .unwrap();
    until_counted(&mut conn, "kept", |c| c.changed >= 1500).await;
    assert!(
        planner_believes(&mut conn).await <= 0.0,
        "never analyzed yet"
    );

    // Grown by more than 1,000 rows: vacuumed (and analyzed), so its pages
    // are marked all-visible and index-only scans need not visit them.
    let kept = pass(&pool, NAPTIME).await.unwrap();
    assert!(kept.contains(&Kept::Vacuumed("kept".into())), "{kept:?}");
    assert_eq!(planner_believes(&mut conn).await, 1500.0);
    assert!(all_visible_pages(&mut conn).await > 0);

    // A fifth of it changed in place: due for ANALYZE, not VACUUM (its 300
    // dead rows are under autovacuum's line for 1,500), but it was analyzed
    // a moment ago: left for a later pass, then analyzed.
    diesel::sql_query("UPDATE kept SET id = -id WHERE id <= 300")
        .execute(&mut conn)
        .await
        .unwrap();
    until_counted(&mut conn, "kept", |c| c.changed >= 300).await;
    let kept = pass(&pool, NAPTIME).await.unwrap();
    assert!(!touched(&kept), "{kept:?}");
    let kept = pass(&pool, Duration::ZERO).await.unwrap();
    assert!(kept.contains(&Kept::Analyzed("kept".into())), "{kept:?}");

    // More than doubled since: analyzed at once, however recently.
    diesel::sql_query("INSERT INTO kept SELECT generate_series(1501, 4600)")
        .execute(&mut conn)
        .await
        .unwrap();
    until_counted(&mut conn, "kept", |c| c.changed >= 3100).await;
    let kept = pass(&pool, NAPTIME).await.unwrap();
    assert!(kept.contains(&Kept::Analyzed("kept".into())), "{kept:?}");
    assert_eq!(planner_believes(&mut conn).await, 4600.0);

    // Dead rows: vacuumed at once, however recently.
    diesel::sql_query("DELETE FROM kept")
        .execute(&mut conn)
        .await
        .unwrap();
    until_counted(&mut conn, "kept", |c| c.dead >= 4600).await;
    let kept = pass(&pool, NAPTIME).await.unwrap();
    assert!(kept.contains(&Kept::Vacuumed("kept".into())), "{kept:?}");
    assert_eq!(planner_believes(&mut conn).await, 0.0);

    // Kept: once analyzed too, nothing to do until it changes again.
    pass(&pool, Duration::ZERO).await.unwrap();
    let kept = pass(&pool, Duration::ZERO).await.unwrap();
    assert!(!touched(&kept), "{kept:?}");
}

/// Whether a pass did anything to the test's table.
fn touched(kept: &[Kept]) -> bool {
    kept.iter()
        .any(|k| matches!(k, Kept::Analyzed(t) | Kept::Vacuumed(t) if t == "kept"))
}
