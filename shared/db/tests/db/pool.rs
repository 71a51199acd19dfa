//! The pool as the services depend on it: a connection the server dropped is
//! never handed out again (the pool heals without a restart), and a pool with
//! nothing free answers a request with a 503 the client may retry.

use diesel_async::RunQueryDsl;
use spotter_db::testing::TestDatabase;
use std::path::PathBuf;

async fn database() -> TestDatabase {
    let migrations = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
    TestDatabase::create("db", &[migrations]).await.unwrap()
}

async fn select_one(pool: &spotter_db::Pool) -> anyhow::Result<()> {
    let mut conn = pool.get().await?;
    diesel::sql_query("SELECT 1").execute(&mut conn).await?;
    Ok(())
}

/// Ends every server process serving `database`, from outside the pool, the
/// way a database restart or failover does; returns how many it ended.
async fn terminate_backends(db: &TestDatabase) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct Ended {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        ended: i64,
    }
    let admin = spotter_db::connect(&db.settings.with_database("postgres").url, 1).unwrap();
    let mut conn = admin.get().await.unwrap();
    let row: Ended = diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS ended FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind::<diesel::sql_types::Text, _>(db.name())
    .get_result(&mut conn)
    .await
    .unwrap();
    row.ended
}

#[tokio::test]
async fn a_connection_the_server_dropped_is_replaced_not_reused() {
    let db = database().await;
    let pool = spotter_db::connect(&db.settings.url, 3).unwrap();
    // Three connections open and back in the pool.
    let held = futures_util::future::join_all((0..3).map(|_| pool.get())).await;
    for conn in held {
        let mut conn = conn.unwrap();
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(pool.status().size, 3);

    assert_eq!(terminate_backends(&db).await, 3);

    // A dropped connection can fail the queries that find it closed until its
    // connection task has seen the socket end; then the pool discards it and
    // opens a fresh one. So the pool heals by itself, quickly: soon every
    // query succeeds again, ten in a row.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut in_a_row = 0;
    while in_a_row < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pool keeps handing out dead connections"
        );
        if select_one(&pool).await.is_ok() {
            in_a_row += 1;
        } else {
            in_a_row = 0;
            // Let the connection tasks see their sockets close.
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test]
async fn an_exhausted_pool_is_a_503_the_client_may_retry() {
    let db = database().await;
    let pool = spotter_db::connect(&db.settings.url, 1).unwrap();
    let _only = pool.get().await.unwrap();

    let err = spotter_db::checkout(&pool)
        .await
        .err()
        .expect("no connection free");
    let response = actix_web::ResponseError::error_response(&err);
    assert_eq!(response.status(), 503);
}
