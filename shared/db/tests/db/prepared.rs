//! `prepared` keeps a statement that diesel would parse anew each time (raw
//! SQL, any UPDATE) prepared on its connection: one parse, then reuse, with
//! each execution's own values. PostgreSQL's `pg_prepared_statements` lists a
//! session's protocol-level prepared statements.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::prepared;
use spotter_db::testing::TestDatabase;
use std::path::PathBuf;

async fn database() -> (TestDatabase, spotter_db::Pool) {
    let migrations = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let db = TestDatabase::create("db", &[migrations]).await.unwrap();
    let pool = spotter_db::connect(&db.settings.url, 1).unwrap();
    (db, pool)
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// How many statements this session holds prepared whose text contains `marker`.
async fn held(conn: &mut AsyncPgConnection, marker: &str) -> i64 {
    let found: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements \
         WHERE statement LIKE '%' || $1 || '%' AND statement NOT LIKE '%pg_prepared_statements%'",
    )
    .bind::<Text, _>(marker)
    .get_result(conn)
    .await
    .unwrap();
    found.n
}

#[derive(diesel::QueryableByName)]
struct Sum {
    #[diesel(sql_type = Integer)]
    sum: i32,
}

#[tokio::test]
async fn raw_sql_is_parsed_once_per_connection_and_reused_with_new_values() {
    let (_db, pool) = database().await;
    let mut conn = pool.get().await.unwrap();

    // Without it, diesel closes the statement after each use.
    for i in 0..3 {
        let row: Sum = diesel::sql_query("SELECT $1 + 1 AS sum /* unprepared */")
            .bind::<Integer, _>(i)
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!(row.sum, i + 1);
    }
    assert_eq!(held(&mut conn, "unprepared").await, 0);

    for i in 0..3 {
        let row: Sum =
            prepared(diesel::sql_query("SELECT $1 + 1 AS sum /* kept */").bind::<Integer, _>(i))
                .get_result(&mut conn)
                .await
                .unwrap();
        assert_eq!(row.sum, i + 1, "each execution has its own value");
    }
    assert_eq!(held(&mut conn, "kept").await, 1, "one statement, reused");
}

diesel::table! {
    items (id) {
        id -> Integer,
        label -> Text,
    }
}

#[tokio::test]
async fn updates_and_batches_are_kept_one_statement_per_text() {
    let (_db, pool) = database().await;
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query("CREATE TABLE items (id INT PRIMARY KEY, label TEXT NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();

    // A batch insert's text depends on its size: each size is a statement
    // of its own, which a batch of the same size reuses.
    for (round, size) in [(0, 1), (1, 2), (2, 1), (3, 2)] {
        let rows: Vec<_> = (round * 10..round * 10 + size)
            .map(|id| (items::id.eq(id), items::label.eq("new")))
            .collect();
        prepared(diesel::insert_into(items::table).values(rows))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(held(&mut conn, "INSERT INTO \"items\"").await, 2);

    // diesel never reuses an UPDATE by itself.
    for (id, label) in [(0, "first"), (10, "second")] {
        let changed = prepared(diesel::update(items::table.find(id)).set(items::label.eq(label)))
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(changed, 1);
    }
    assert_eq!(held(&mut conn, "UPDATE \"items\"").await, 1);
    let labels: Vec<(i32, String)> = items::table.order(items::id).load(&mut conn).await.unwrap();
    let expected = [
        (0, "first"),
        (10, "second"),
        (11, "new"),
        (20, "new"),
        (30, "new"),
        (31, "new"),
    ];
    let expected: Vec<(i32, String)> = expected.iter().map(|&(id, l)| (id, l.to_owned())).collect();
    assert_eq!(labels, expected, "each execution wrote its own values");
}
