//! TLS to this machine's PostgreSQL, as production configures it in the URL
//! (`sslmode`, `sslrootcert`). `make test` switches TLS on with a local test
//! CA (deploy/local/ensure-deps.sh, SPOTTER_WITH_TLS=1); the tests connect as
//! the booking service's role over TCP, as a deployment does.

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use spotter_db::testing::TestDatabase;
use std::path::PathBuf;

/// The test CA beside the server's certificate (where ensure-deps.sh puts it).
async fn test_ca() -> PathBuf {
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        ssl_cert_file: String,
    }
    let migrations = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let db = TestDatabase::create("db", &[migrations]).await.unwrap();
    let pool = spotter_db::connect(&db.settings.url, 1).unwrap();
    let mut conn = pool.get().await.unwrap();
    let setting: Setting = diesel::sql_query("SHOW ssl_cert_file")
        .get_result(&mut conn)
        .await
        .unwrap();
    let ca = PathBuf::from(setting.ssl_cert_file).with_file_name("ca.crt");
    assert!(
        ca.is_file(),
        "no test CA at {} (the server's TLS is not the one `make deps-test` sets up; run it)",
        ca.display()
    );
    ca
}

fn url(host: &str, query: &str) -> String {
    format!("postgres://spotter_booking:spotter-booking-dev@{host}:5432/postgres?{query}")
}

/// Whether this connection's server process says it is encrypted.
async fn encrypted(conn: &mut AsyncPgConnection) -> bool {
    #[derive(diesel::QueryableByName)]
    struct Ssl {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ssl: bool,
    }
    let row: Ssl = diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result(conn)
        .await
        .unwrap();
    row.ssl
}

#[tokio::test]
async fn verify_full_connects_encrypted_through_the_pool_the_services_use() {
    let ca = test_ca().await;
    let query = format!("sslmode=verify-full&sslrootcert={}", ca.display());
    let pool = spotter_db::connect(&url("127.0.0.1", &query).into(), 2).unwrap();
    let mut conn = pool.get().await.unwrap();
    assert!(encrypted(&mut conn).await);
    // The one-off connections (migrations, LISTEN, creating databases) too.
    let mut single = spotter_db::establish(&url("localhost", &query))
        .await
        .unwrap();
    assert!(encrypted(&mut single).await);
}

#[tokio::test]
async fn require_encrypts_and_no_sslmode_stays_plain() {
    let mut required = spotter_db::establish(&url("127.0.0.1", "sslmode=require"))
        .await
        .unwrap();
    assert!(encrypted(&mut required).await);
    let mut plain = spotter_db::establish(&url("127.0.0.1", "")).await.unwrap();
    assert!(!encrypted(&mut plain).await);
}

#[tokio::test]
async fn a_server_the_root_does_not_vouch_for_is_refused() {
    test_ca().await;
    // The OS trust store knows nothing of the local test CA.
    let refused =
        spotter_db::establish(&url("127.0.0.1", "sslmode=verify-full&sslrootcert=system")).await;
    let error = refused
        .err()
        .expect("an unknown CA must be refused")
        .to_string();
    // Refused by the server's certificate, not earlier (say, an empty store).
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[tokio::test]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let ca = test_ca().await;
    // Reach 127.0.0.1 while calling it a name the certificate does not carry.
    let wrong_name = |mode: &str| {
        format!(
            "postgres://spotter_booking:spotter-booking-dev@db.spotter.invalid:5432/postgres\
             ?hostaddr=127.0.0.1&sslmode={mode}&sslrootcert={}",
            ca.display()
        )
    };
    let refused = spotter_db::establish(&wrong_name("verify-full")).await;
    let error = refused
        .err()
        .expect("a name mismatch must be refused")
        .to_string();
    assert!(error.contains("certificate"), "{error}");
    let mut chain_only = spotter_db::establish(&wrong_name("verify-ca"))
        .await
        .unwrap();
    assert!(encrypted(&mut chain_only).await);
}
