//! `spotter dev`: the three services in one process behind one listener.
//!
//! Each service keeps its own database and talks to the others only through
//! RabbitMQ, exactly as in production; only the HTTP listener is shared, split
//! by path prefix the way the production gateway splits it.

use crate::{SERVICES, start_stack};
use clap::Args;
use spotter_auth::{DEFAULT_AUDIENCE, DEV_ISSUER, ensure_dev_keys};
use spotter_platform::settings::{AuthConfig, Settings};
use std::path::PathBuf;

#[derive(Args)]
pub struct DevArgs {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// 0 picks a free port.
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Where the dev key pair is kept (created on first run, git-ignored).
    #[arg(long, env = "SPOTTER_DEV_KEYS", default_value = ".spotter/dev-keys")]
    keys_dir: PathBuf,
    /// Databases are `<prefix>referral`, `<prefix>booking`, `<prefix>notification`.
    #[arg(long, default_value = "spotter_")]
    db_prefix: String,
    /// Connect each service as its own PostgreSQL role (`spotter_<service>`,
    /// owning only its own database) and its own RabbitMQ user
    /// (`spotter-<service>`, publishing only `<service>.*`), as in production.
    /// deploy/local/ensure-deps.sh creates both; `make run` passes this flag.
    /// Passwords: SPOTTER_<SERVICE>_DB_PASSWORD and
    /// SPOTTER_<SERVICE>_BROKER_PASSWORD, else `spotter-<service>-dev`.
    #[arg(long, env = "SPOTTER_DEV_SERVICE_ACCOUNTS")]
    service_accounts: bool,
    /// Serve this service's HTTP API here but run none of its background
    /// tasks (consumers, outbox relay, workers, retention, its rate limiter's
    /// idle sweep and /metrics gauges): a `spotter serve <service>` process on
    /// the same database and queues does the work. `make bench-load` runs
    /// booking that way, to measure booking alone in its own process.
    #[arg(long, value_name = "SERVICE", value_parser = clap::builder::PossibleValuesParser::new(SERVICES))]
    work_elsewhere: Vec<String>,
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    let mut settings = spotter_platform::settings::load("dev")?;
    if std::env::var_os("SPOTTER_LOG__FORMAT").is_none() {
        settings.log.format = "pretty".to_owned();
    }
    spotter_platform::telemetry::init(&settings.log);
    settings.server.host = args.host.clone();
    settings.server.port = args.port;
    let keys = ensure_dev_keys(&args.keys_dir)?;
    settings.auth = AuthConfig {
        issuer: DEV_ISSUER.to_owned(),
        audience: DEFAULT_AUDIENCE.to_owned(),
        jwks: Some(keys.jwks_path.to_string_lossy().into_owned()),
        dev_mode: true,
    };
    let verifier = spotter_service::verifier(&settings.auth).await?;
    // The configured database user is the administrator who creates the
    // databases; with service accounts each service then connects as its own.
    let admin_database = |name: &str| {
        settings
            .database
            .with_database(&format!("{}{name}", args.db_prefix))
    };
    let for_service = |name: &str| -> Settings {
        let mut own = settings.clone();
        own.database = admin_database(name);
        if args.service_accounts {
            own.database = own
                .database
                .as_role(&database_role(name), &password(name, "DB"));
            own.broker = own
                .broker
                .as_user(&format!("spotter-{name}"), &password(name, "BROKER"));
        }
        own
    };
    for name in SERVICES {
        if args.service_accounts {
            spotter_db::ensure_owned_database(
                &admin_database(name),
                &database_role(name),
                crate::admin_sql_of(name),
            )
            .await?;
        } else {
            spotter_db::ensure_database_exists(&admin_database(name)).await?;
        }
    }
    let running = start_stack(&settings, for_service, verifier, &args.work_elsewhere).await?;
    print_banner(&args.host, running.port(), &args.keys_dir);
    running.run_until_stopped().await
}

/// The PostgreSQL role a service connects as (deploy/local/ensure-deps.sh).
fn database_role(service: &str) -> String {
    format!("spotter_{service}")
}

/// `SPOTTER_<SERVICE>_<KIND>_PASSWORD`, or the local-machine default that
/// deploy/local/ensure-deps.sh and broker-users.sh also fall back to.
fn password(service: &str, kind: &str) -> String {
    let variable = format!("SPOTTER_{}_{kind}_PASSWORD", service.to_ascii_uppercase());
    std::env::var(variable).unwrap_or_else(|_| format!("spotter-{service}-dev"))
}

fn print_banner(host: &str, port: u16, keys_dir: &std::path::Path) {
    use std::io::Write;
    let base = format!("http://{host}:{port}");
    let banner = format!(
        "Spotter dev stack listening on {base}\n\
         \x20 health   {base}/livez  {base}/readyz\n\
         \x20 OpenAPI  {base}/openapi.json\n\
         \x20 a token  TOKEN=$(./target/release/spotter token --role trainer --sub $(cat /proc/sys/kernel/random/uuid))\n\
         \x20          (dev keys in {}; roles: trainer, physio, clinic_admin, platform_admin)\n\
         \x20 try      curl -H \"Authorization: Bearer $TOKEN\" {base}/v1/notifications\n",
        keys_dir.display()
    );
    // A closed stdout (piped into `head`, say) must not take the stack down.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
}
