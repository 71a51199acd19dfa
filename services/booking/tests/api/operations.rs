//! How the process meets its operators (docs/runbook.md): `/metrics` on a
//! port of its own, and a replica that does not migrate refusing a database
//! its migrations have not reached.

use crate::support::BookingApp;
use booking_service::Booking;
use diesel_async::RunQueryDsl;
use secrecy::ExposeSecret;
use spotter_db::testing::TestDatabase;
use spotter_service::{Application, ServiceDefinition};

#[tokio::test]
async fn metrics_move_to_their_own_port_when_one_is_set() {
    let app = BookingApp::start().await;
    let mut settings = app.settings.clone();
    settings.server.metrics_port = Some(0);
    let replica = Application::<Booking>::build_with_verifier(settings, app.auth.verifier.clone())
        .await
        .unwrap();
    let api = format!("http://127.0.0.1:{}", replica.port());
    let metrics = format!(
        "http://127.0.0.1:{}",
        replica.metrics_port().expect("a metrics port")
    );
    let shutdown = replica.shutdown_token();
    tokio::spawn(replica.run_until_stopped());
    let http = reqwest::Client::new();

    let on_api = http.get(format!("{api}/metrics")).send().await.unwrap();
    assert_eq!(
        on_api.status(),
        404,
        "the API port no longer serves /metrics"
    );
    // A probe writes the readiness gauges (the broker may still be connecting).
    http.get(format!("{api}/readyz")).send().await.unwrap();
    let scraped = http.get(format!("{metrics}/metrics")).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    let text = scraped.text().await.unwrap();
    assert!(
        text.contains(r#"spotter_readiness_check_up{check="booking.database"} 1"#),
        "{text}"
    );
    // Nothing else answers there: the API stays behind the gateway.
    let elsewhere = http.get(format!("{metrics}/readyz")).send().await.unwrap();
    assert_eq!(elsewhere.status(), 404);
    shutdown.cancel();
}

#[tokio::test]
async fn a_replica_that_does_not_migrate_waits_for_spotter_migrate() {
    let app = BookingApp::start().await;
    // A database no migration has touched, on the test's broker names.
    let empty = TestDatabase::create("booking", &[]).await.unwrap();
    let mut settings = app.settings.clone();
    settings.database = empty.settings.clone();
    settings.database.migrate_on_start = false;

    let refused =
        Application::<Booking>::build_with_verifier(settings.clone(), app.auth.verifier.clone())
            .await
            .err()
            .expect("no start on an unmigrated database");
    let said = format!("{refused:#}");
    assert!(said.contains("spotter migrate booking"), "{said}");
    let pending = spotter_db::pending_migrations(&settings.database.url, Booking::MIGRATIONS)
        .await
        .unwrap();
    assert!(!pending.is_empty(), "checking migrated nothing");
    let mut conn = spotter_db::establish(settings.database.url.expose_secret())
        .await
        .unwrap();
    let bookkeeping: Option<String> =
        diesel::select(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Text>,
        >("to_regclass('__diesel_schema_migrations')::text"))
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(bookkeeping, None, "nor created diesel's bookkeeping table");

    spotter_service::migrate::<Booking>(&settings.database)
        .await
        .unwrap();
    let started = Application::<Booking>::build_with_verifier(settings, app.auth.verifier.clone())
        .await
        .unwrap();
    started.shutdown_token().cancel();
}
