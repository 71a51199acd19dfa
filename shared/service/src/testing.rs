//! Settings for a test: its own database per service, its own exchange and
//! queue names, a free port. PostgreSQL and RabbitMQ are shared by every test
//! running at once; names are what keep them apart.

use spotter_platform::settings::Settings;

/// A unique prefix for one test's broker names (exchange, queues, connections).
pub fn broker_prefix() -> String {
    format!("t{}.", uuid::Uuid::new_v4().simple())
}

/// Defaults, with the database replaced, the broker names prefixed and port 0.
pub fn settings(
    database: &spotter_db::testing::TestDatabase,
    prefix: &str,
) -> anyhow::Result<Settings> {
    let mut settings = spotter_platform::settings::load_from("test", None)?;
    settings.server.port = 0;
    settings.database = database.settings.clone();
    settings.database.max_connections = 4;
    settings.broker.exchange = format!("{prefix}spotter.events");
    settings.broker.queue_prefix = prefix.to_owned();
    settings.auth.dev_mode = true;
    Ok(settings)
}
