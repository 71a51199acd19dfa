//! The dev stack as a library, so tests start exactly what `spotter dev` runs.

use booking_service::Booking;
use notification_service::Notification;
use referral_service::Referral;
use spotter_auth::JwtVerifier;
use spotter_platform::settings::Settings;
use spotter_platform::{Metrics, Running};
use spotter_service::prepare_module;
use tokio_util::sync::CancellationToken;

mod bench;
pub mod cli;
mod demo;
mod dev;
mod dev_api;
#[cfg(feature = "testing")]
pub mod testing;
mod token;

pub const SERVICES: [&str; 3] = ["referral", "booking", "notification"];

/// What an administrator runs in `service`'s database before the service,
/// as its own role, migrates it (`ServiceDefinition::ADMIN_SQL`).
pub fn admin_sql_of(service: &str) -> &'static str {
    use spotter_service::ServiceDefinition;
    match service {
        "referral" => Referral::ADMIN_SQL,
        "booking" => Booking::ADMIN_SQL,
        "notification" => Notification::ADMIN_SQL,
        _ => "",
    }
}

/// Starts the three services behind one listener. `for_service` gives each
/// service its settings (its own database); the server section of `base`
/// decides the listener. The services named in `work_elsewhere` serve their
/// HTTP API here but run none of their background tasks (consumers, outbox
/// relay, workers, retention; also their rate limiter's idle sweep and their
/// `/metrics` gauges, so it suits a benchmark, not a long-lived stack): a
/// `spotter serve` process of that service, on the same database and
/// queues, does the work (`make bench-load` measures booking alone that way).
pub async fn start_stack(
    base: &Settings,
    for_service: impl Fn(&str) -> Settings,
    verifier: JwtVerifier,
    work_elsewhere: &[String],
) -> anyhow::Result<Running> {
    let shutdown = CancellationToken::new();
    let mut modules = vec![
        prepare_module::<Referral>(for_service("referral"), verifier.clone(), shutdown.clone())
            .await?,
        prepare_module::<Booking>(for_service("booking"), verifier.clone(), shutdown.clone())
            .await?,
        prepare_module::<Notification>(for_service("notification"), verifier, shutdown.clone())
            .await?,
    ];
    for module in &mut modules {
        if work_elsewhere.iter().any(|name| name == module.name) {
            module.tasks.clear();
        }
    }
    Running::start(&base.server, modules, Metrics::new()?, shutdown)
}

/// `spotter migrate <service>`: the service's database up to date, from the
/// same settings `spotter serve` reads.
pub async fn migrate(service: &str) -> anyhow::Result<()> {
    use spotter_service::migrate;
    let settings = spotter_platform::settings::load(service)?;
    spotter_platform::telemetry::init(&settings.log);
    match service {
        "referral" => migrate::<Referral>(&settings.database).await?,
        "booking" => migrate::<Booking>(&settings.database).await?,
        "notification" => migrate::<Notification>(&settings.database).await?,
        other => anyhow::bail!(
            "no service called {other}; services: {}",
            SERVICES.join(", ")
        ),
    }
    tracing::info!(service, "database up to date");
    Ok(())
}

/// `spotter serve <service>`: one service alone, configured from `SPOTTER_*`
/// variables (the production shape). Logs `listening` with its port.
pub async fn serve(service: &str) -> anyhow::Result<()> {
    let settings = spotter_platform::settings::load(service)?;
    spotter_platform::telemetry::init(&settings.log);
    let (port, run) = match service {
        "referral" => {
            let app = referral_service::Application::build(settings).await?;
            (
                app.port(),
                Box::pin(app.run_until_stopped()) as std::pin::Pin<Box<dyn Future<Output = _>>>,
            )
        }
        "booking" => {
            let app = booking_service::Application::build(settings).await?;
            (app.port(), Box::pin(app.run_until_stopped()) as _)
        }
        "notification" => {
            let app = notification_service::Application::build(settings).await?;
            (app.port(), Box::pin(app.run_until_stopped()) as _)
        }
        other => anyhow::bail!(
            "no service called {other}; services: {}",
            SERVICES.join(", ")
        ),
    };
    tracing::info!(service, port, "listening");
    run.await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    /// Every extension a service's migrations create is one the administrator
    /// creates first; otherwise a least-privileged owner's migration fails
    /// (earthdistance is not a trusted extension).
    #[test]
    fn every_extension_the_migrations_create_is_declared() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for service in super::SERVICES {
            let mut dirs = vec![root.join(format!("services/{service}/migrations"))];
            dirs.extend(
                ["shared/db/migrations", "shared/messaging/migrations"].map(|d| root.join(d)),
            );
            for dir in dirs {
                for migration in std::fs::read_dir(&dir).unwrap() {
                    let up = migration.unwrap().path().join("up.sql");
                    let sql = std::fs::read_to_string(&up).unwrap_or_default();
                    for line in sql.lines() {
                        let Some(rest) =
                            line.trim().strip_prefix("CREATE EXTENSION IF NOT EXISTS ")
                        else {
                            continue;
                        };
                        let name = rest.trim_end_matches(';').trim().trim_matches('"');
                        let prepared = format!("CREATE EXTENSION IF NOT EXISTS {name};");
                        assert!(
                            super::admin_sql_of(service).contains(&prepared),
                            "{service}: {} creates {name}, which its ADMIN_SQL does not",
                            up.display()
                        );
                    }
                }
            }
        }
    }
}
