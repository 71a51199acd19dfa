//! How database failures reach an API client: a constraint's refusal is a
//! 409 that does not name the constraint, a row missing where the handler
//! did not ask "is it there?" is our 500, and `or_not_found` is the one way
//! to say "not yours or not there" (404).

use actix_web::ResponseError;
use actix_web::body::to_bytes;
use diesel_async::RunQueryDsl;
use spotter_db::testing::TestDatabase;
use spotter_db::{OrNotFound, db_error};
use spotter_platform::ApiError;
use std::path::PathBuf;

async fn database() -> (TestDatabase, spotter_db::Pool) {
    let migrations = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let db = TestDatabase::create("db", &[migrations]).await.unwrap();
    let pool = spotter_db::connect(&db.settings.url, 2).unwrap();
    let mut conn = pool.get().await.unwrap();
    diesel::sql_query(
        "CREATE TABLE things (id INT PRIMARY KEY, name TEXT, \
         CONSTRAINT things_secret_internal_name UNIQUE (name))",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    (db, pool)
}

async fn status_and_body(err: &ApiError) -> (u16, String) {
    let response = err.error_response();
    let status = response.status().as_u16();
    let body = to_bytes(response.into_body()).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[derive(Debug, diesel::QueryableByName)]
struct Thing {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    #[allow(dead_code)]
    id: i32,
}

#[tokio::test]
async fn a_refused_duplicate_is_a_409_that_keeps_the_constraint_name_inside() {
    let (_db, pool) = database().await;
    let mut conn = pool.get().await.unwrap();
    let insert = |id: i32| diesel::sql_query(format!("INSERT INTO things VALUES ({id}, 'same')"));
    insert(1).execute(&mut conn).await.unwrap();
    let refused = insert(2).execute(&mut conn).await.unwrap_err();

    let (status, body) = status_and_body(&db_error(refused)).await;
    assert_eq!(status, 409);
    assert!(!body.contains("things_secret_internal_name"), "{body}");
    assert!(!body.contains("things"), "{body}");
}

#[tokio::test]
async fn a_missing_row_is_ours_unless_the_handler_asks_whether_it_is_there() {
    let (_db, pool) = database().await;
    let mut conn = pool.get().await.unwrap();
    let lookup = || diesel::sql_query("SELECT id FROM things WHERE id = 7");

    let missing = lookup().get_result::<Thing>(&mut conn).await.unwrap_err();
    let (status, body) = status_and_body(&db_error(missing)).await;
    assert_eq!(
        status, 500,
        "a lookup that must find its row did not: {body}"
    );

    let not_there = lookup()
        .get_result::<Thing>(&mut conn)
        .await
        .or_not_found()
        .err()
        .unwrap();
    assert_eq!(status_and_body(&not_there).await.0, 404);
}
