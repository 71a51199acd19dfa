//! `upkeep::pass` does autovacuum's job for the service's own tables: a
//! table with many changed rows is analyzed (the planner then knows its
//! size), one with many dead rows vacuumed, and a table kept is left alone
//! until it changes again.

use diesel::sql_types::{BigInt, Double, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::testing::TestDatabase;
use spotter_db::upkeep::{Kept, pass};
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

#[tokio::test]
async fn tables_that_changed_are_analyzed_and_those_full_of_dead_rows_vacuumed() {
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

    let kept = pass(&pool).await.unwrap();
    assert!(kept.contains(&Kept::Analyzed("kept".into())), "{kept:?}");
    assert_eq!(planner_believes(&mut conn).await, 1500.0);

    diesel::sql_query("DELETE FROM kept WHERE id > 300")
        .execute(&mut conn)
        .await
        .unwrap();
    until_counted(&mut conn, "kept", |c| c.dead >= 1200).await;
    let kept = pass(&pool).await.unwrap();
    assert!(kept.contains(&Kept::Vacuumed("kept".into())), "{kept:?}");
    assert_eq!(planner_believes(&mut conn).await, 300.0);

    // Kept: nothing to do until it changes again.
    let kept = pass(&pool).await.unwrap();
    assert!(
        !kept
            .iter()
            .any(|k| matches!(k, Kept::Analyzed(t) | Kept::Vacuumed(t) if t == "kept")),
        "{kept:?}"
    );
}
