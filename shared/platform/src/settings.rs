//! Configuration in layers: built-in defaults → an optional TOML file (path in
//! `SPOTTER_CONFIG`) → `SPOTTER_<SECTION>__<KEY>` environment variables.
//! Secrets are `SecretString`, so a `{:?}` of the settings never prints them.

use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::path::Path;

mod limits;
pub use limits::{
    DeadlineSettings, QuotaSettings, RateLimitSettings, StreamSettings, WebhookSettings,
};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub broker: BrokerSettings,
    pub auth: AuthConfig,
    pub log: LogSettings,
    /// Push to phones (the notification service). Absent: push is off.
    #[serde(default)]
    pub push: PushSettings,
    /// The notification service's live streams.
    #[serde(default)]
    pub streams: StreamSettings,
    /// Fair use: what one account may hold or add (the referral service).
    #[serde(default)]
    pub quotas: QuotaSettings,
    /// Fair use: requests per user per replica, reads and writes apart.
    #[serde(default)]
    pub rate_limits: RateLimitSettings,
    /// When a wait escalates (docs/architecture.md, "Deadlines").
    #[serde(default)]
    pub deadlines: DeadlineSettings,
    /// Webhooks to clinics' systems (docs/webhooks.md).
    #[serde(default)]
    pub webhooks: WebhookSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Largest request body accepted; larger ones get 413 before any parsing.
    pub body_limit_bytes: usize,
    /// Where `/metrics` is served: unset, beside the API on `port` (the dev
    /// stack); set, only on this port of `host` (deploy/k8s: 9090), so a
    /// network policy can open it to the monitoring namespace alone.
    #[serde(default)]
    pub metrics_port: Option<u16>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// Full connection URL including the database name.
    pub url: SecretString,
    pub max_connections: usize,
    /// Whether the process migrates its database before it serves (the dev
    /// stack, compose). `false` where `spotter migrate <service>` runs first
    /// (deploy/k8s: an init container); the process then only checks that
    /// no migration is pending, and refuses to start if one is.
    pub migrate_on_start: bool,
}

impl DatabaseSettings {
    /// The same server and credentials, another database: how the dev stack gives
    /// each service its own database from one configured server.
    pub fn with_database(&self, name: &str) -> Self {
        Self {
            url: SecretString::from(replace_database_name(self.url.expose_secret(), name)),
            ..self.clone()
        }
    }

    /// The same database reached as `user` with `password`: how the dev stack
    /// connects each service as its own role. A password is checked only over
    /// TCP (Debian's socket authentication is `peer`, which matches the OS
    /// user), so a socket host becomes 127.0.0.1:5432.
    pub fn as_role(&self, user: &str, password: &str) -> Self {
        let url = with_userinfo(self.url.expose_secret(), user, password, over_tcp);
        Self {
            url: SecretString::from(url),
            ..self.clone()
        }
    }

    /// The database name at the end of the URL's path.
    pub fn database_name(&self) -> String {
        url_parts(self.url.expose_secret())
            .path
            .trim_start_matches('/')
            .to_owned()
    }
}

/// A connection URL cut into its parts: `scheme://[userinfo@]host[/path][?query]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    pub userinfo: Option<&'a str>,
    pub host: &'a str,
    /// With its leading `/`, or empty.
    pub path: &'a str,
    pub query: Option<&'a str>,
}

/// Cuts `url` the one way every reader here needs, as RFC 3986 does: the
/// authority ends at the first `/` or `?`, and the host starts after its
/// last `@`. So an `@` in the query (an `application_name`, a certificate
/// path) is never taken for the end of a password. Delimiters in a password
/// are percent-encoded, as `with_userinfo` writes them and libpq and
/// tokio-postgres expect. Without a scheme, `postgres` is assumed.
pub fn url_parts(url: &str) -> UrlParts<'_> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, host) = match authority.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, authority),
    };
    let (path, query) = match tail.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (tail, None),
    };
    UrlParts {
        scheme,
        userinfo,
        host,
        path,
        query,
    }
}

impl UrlParts<'_> {
    fn assemble(&self, userinfo: Option<&str>, host: &str, path: &str) -> String {
        let userinfo = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
        let query = self.query.map(|q| format!("?{q}")).unwrap_or_default();
        format!("{}://{userinfo}{host}{path}{query}", self.scheme)
    }
}

fn replace_database_name(url: &str, name: &str) -> String {
    let parts = url_parts(url);
    parts.assemble(parts.userinfo, parts.host, &format!("/{name}"))
}

/// A Unix socket directory (a host starting with `/`, percent-encoded or
/// not) becomes 127.0.0.1, keeping the port (5432 when none is given).
fn over_tcp(host: &str) -> String {
    let lower = host.to_ascii_lowercase();
    if !(lower.starts_with("%2f") || host.starts_with('/')) {
        return host.to_owned();
    }
    match host.rsplit_once(':') {
        Some((_, port)) => format!("127.0.0.1:{port}"),
        None => "127.0.0.1:5432".to_owned(),
    }
}

/// `scheme://user:password@host…` with the user and password replaced (or
/// added), both percent-encoded, and the host passed through `host_map`.
fn with_userinfo(
    url: &str,
    user: &str,
    password: &str,
    host_map: impl Fn(&str) -> String,
) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const USERINFO: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
    let parts = url_parts(url);
    let userinfo = format!(
        "{}:{}",
        utf8_percent_encode(user, USERINFO),
        utf8_percent_encode(password, USERINFO)
    );
    parts.assemble(Some(&userinfo), &host_map(parts.host), parts.path)
}

#[derive(Debug, Clone, Deserialize)]
pub struct BrokerSettings {
    /// `amqp://` or, encrypted, `amqps://` (docs/architecture.md, "Encrypted links").
    /// A cluster's nodes as several URLs separated by commas: the connection
    /// goes to one and, when it is lost, to the next that answers. Only a
    /// comma followed by `amqp://` or `amqps://` starts another node, so a
    /// password may hold a comma.
    pub url: SecretString,
    /// For `amqps://`: a PEM file with the CA that signed the broker's
    /// certificate. Absent: the operating system's trust store.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// The topic exchange every event goes through. Tests give each run its own.
    pub exchange: String,
    /// Prefix for every queue this process declares (tests isolate by it).
    pub queue_prefix: String,
}

impl BrokerSettings {
    /// The same broker (every node) and virtual host as another user.
    pub fn as_user(&self, user: &str, password: &str) -> Self {
        let urls: Vec<String> = self
            .addresses()
            .iter()
            .map(|url| with_userinfo(url, user, password, str::to_owned))
            .collect();
        Self {
            url: SecretString::from(urls.join(",")),
            ..self.clone()
        }
    }

    /// Each node's URL, in the order configured.
    pub fn addresses(&self) -> Vec<String> {
        let mut nodes: Vec<String> = Vec::new();
        let list = self.url.expose_secret().trim().trim_end_matches(',');
        for piece in list.split(',') {
            let starts_a_node = ["amqp://", "amqps://"]
                .iter()
                .any(|scheme| piece.trim_start().starts_with(scheme));
            match nodes.last_mut() {
                Some(node) if !starts_a_node => {
                    node.push(',');
                    node.push_str(piece);
                }
                _ => nodes.push(piece.trim_start().to_owned()),
            }
        }
        nodes
            .into_iter()
            .map(|node| node.trim_end().to_owned())
            .filter(|node| !node.is_empty())
            .collect()
    }

    pub fn queue_name(&self, name: &str) -> String {
        format!("{}{}", self.queue_prefix, name)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthConfig {
    pub issuer: String,
    pub audience: String,
    /// A JWKS file path or an https URL. Required outside dev mode.
    pub jwks: Option<String>,
    /// Only `spotter dev` sets this, in code: trusts the locally generated dev
    /// key. No file or environment variable can switch it on (`skip`), so a
    /// production deployment cannot be talked into trusting the dev key.
    #[serde(skip)]
    pub dev_mode: bool,
}

/// Each provider is on when its section is present, off otherwise; the inbox
/// records either way.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PushSettings {
    pub fcm: Option<FcmSettings>,
    pub apns: Option<ApnsSettings>,
    /// Test-only: lets the providers' endpoints be plain `http://` (the
    /// tests' local fakes). Off, every push URL must be `https://`.
    #[serde(default)]
    pub allow_plain_http_for_tests: bool,
}

/// Firebase Cloud Messaging (HTTP v1), for Android phones.
#[derive(Debug, Clone, Deserialize)]
pub struct FcmSettings {
    /// The Google service-account key (JSON, as downloaded from the Firebase
    /// console): its `project_id`, `client_email`, `private_key` and `token_uri`.
    pub service_account_file: String,
    /// Where `messages:send` lives; only tests change it.
    #[serde(default = "default_fcm_endpoint")]
    pub endpoint: String,
}

fn default_fcm_endpoint() -> String {
    "https://fcm.googleapis.com".to_owned()
}

/// Apple Push Notification service, token-based, for iPhones.
#[derive(Debug, Clone, Deserialize)]
pub struct ApnsSettings {
    /// The `.p8` signing key from the Apple developer account.
    pub key_file: String,
    /// The key's 10-character id.
    pub key_id: String,
    /// The developer team's 10-character id.
    pub team_id: String,
    /// The app's bundle id.
    pub topic: String,
    /// `https://api.push.apple.com`, or `https://api.sandbox.push.apple.com`
    /// for development builds of the app.
    #[serde(default = "default_apns_endpoint")]
    pub endpoint: String,
}

fn default_apns_endpoint() -> String {
    "https://api.push.apple.com".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    /// `json` for machines (the default), `pretty` for a terminal.
    pub format: String,
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub level: String,
}

/// Layers the settings of the service called `service` (which names its default
/// database `spotter_<service>`).
pub fn load(service: &str) -> anyhow::Result<Settings> {
    let file = std::env::var("SPOTTER_CONFIG").ok();
    load_from(service, file.as_deref().map(Path::new))
}

pub fn load_from(service: &str, file: Option<&Path>) -> anyhow::Result<Settings> {
    load_with(service, file, environment())
}

fn environment() -> Environment {
    Environment::with_prefix("SPOTTER")
        .prefix_separator("_")
        .separator("__")
        .try_parsing(true)
}

fn load_with(
    service: &str,
    file: Option<&Path>,
    environment: Environment,
) -> anyhow::Result<Settings> {
    let mut builder = Config::builder()
        .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
        .set_default("database.url", default_database_url(service))?;
    if let Some(path) = file {
        builder = builder.add_source(File::from(path).format(FileFormat::Toml).required(true));
    }
    let config = builder.add_source(environment).build()?;
    Ok(config.try_deserialize()?)
}

const DEFAULTS: &str = r#"
[server]
host = "127.0.0.1"
port = 8080
body_limit_bytes = 65536

[database]
# Every consumer delivery in flight holds a connection for its transaction,
# beside HTTP requests, the outbox relay and the workers: keep this well above
# the consumers' concurrency.
max_connections = 20
migrate_on_start = true

[broker]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
exchange = "spotter.events"
queue_prefix = ""

[auth]
issuer = "spotter-dev"
audience = "spotter"

[log]
format = "json"
level = "info"
"#;

/// PostgreSQL as the current OS user: over the local socket where the Debian
/// socket directory exists (peer auth needs no password), else 127.0.0.1:5432.
fn default_database_url(service: &str) -> String {
    let user = current_user();
    let host = if Path::new("/var/run/postgresql").is_dir() {
        "%2Fvar%2Frun%2Fpostgresql"
    } else {
        "127.0.0.1:5432"
    };
    format!("postgres://{user}@{host}/spotter_{service}")
}

/// The OS user, as libpq would pick it: `USER`, then `LOGNAME`; CI shells may
/// set neither, and there root is the usual caller.
fn current_user() -> String {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| {
            if running_as_root() {
                "root"
            } else {
                "postgres"
            }
            .to_owned()
        })
}

fn running_as_root() -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn credentials_are_replaced_keeping_host_path_and_query() {
        assert_eq!(
            with_userinfo(
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                "spotter-booking",
                "p@ss",
                str::to_owned
            ),
            "amqp://spotter-booking:p%40ss@127.0.0.1:5672/%2f"
        );
        let db = DatabaseSettings {
            url: SecretString::from("postgres://root@%2Fvar%2Frun%2Fpostgresql/spotter_booking"),
            max_connections: 3,
            migrate_on_start: true,
        };
        assert_eq!(
            db.as_role("spotter_booking", "pw").url.expose_secret(),
            "postgres://spotter_booking:pw@127.0.0.1:5432/spotter_booking"
        );
        let other_socket = DatabaseSettings {
            url: SecretString::from("postgres://root@%2ftmp:5433/x"),
            max_connections: 3,
            migrate_on_start: true,
        };
        assert_eq!(
            other_socket.as_role("u", "p").url.expose_secret(),
            "postgres://u:p@127.0.0.1:5433/x"
        );
        let remote = DatabaseSettings {
            url: SecretString::from("postgres://db.example/x?sslmode=require"),
            max_connections: 3,
            migrate_on_start: true,
        };
        assert_eq!(
            remote.as_role("u", "p").url.expose_secret(),
            "postgres://u:p@db.example/x?sslmode=require"
        );
    }

    #[test]
    fn every_node_of_a_broker_list_takes_the_services_user() {
        let cluster = BrokerSettings {
            url: SecretString::from(
                "amqp://guest:guest@10.0.0.1:5672/%2f, amqp://guest:guest@10.0.0.2:5672/%2f,",
            ),
            ca_file: None,
            exchange: "spotter.events".into(),
            queue_prefix: String::new(),
        };
        assert_eq!(
            cluster.as_user("spotter-booking", "p,w").addresses(),
            [
                "amqp://spotter-booking:p%2Cw@10.0.0.1:5672/%2f",
                "amqp://spotter-booking:p%2Cw@10.0.0.2:5672/%2f"
            ]
        );
        // A raw comma in a password does not start a node.
        let raw = BrokerSettings {
            url: SecretString::from("amqp://u:p,w@h1:5672/%2f,amqps://u:x@h2:5671/%2f"),
            ..cluster
        };
        assert_eq!(
            raw.addresses(),
            ["amqp://u:p,w@h1:5672/%2f", "amqps://u:x@h2:5671/%2f"]
        );
    }

    #[test]
    fn an_encoded_password_and_a_query_holding_at_stay_whole() {
        let db = DatabaseSettings {
            url: SecretString::from(
                "postgres://me:a%2Fb%3Fc%40d@db.example:5433/spotter_x?sslmode=require&application_name=a@b",
            ),
            max_connections: 3,
            migrate_on_start: true,
        };
        assert_eq!(db.database_name(), "spotter_x");
        assert_eq!(
            db.with_database("other").url.expose_secret(),
            "postgres://me:a%2Fb%3Fc%40d@db.example:5433/other?sslmode=require&application_name=a@b"
        );
        assert_eq!(
            db.as_role("u", "p").url.expose_secret(),
            "postgres://u:p@db.example:5433/spotter_x?sslmode=require&application_name=a@b"
        );
        // An `@` in the query is not the end of a password: the TLS mode
        // stays readable.
        let parts = url_parts("postgres://db.example/x?sslmode=require&application_name=a@b");
        assert_eq!(
            (parts.userinfo, parts.host, parts.query),
            (
                None,
                "db.example",
                Some("sslmode=require&application_name=a@b")
            )
        );
        let parts = url_parts("amqp://guest:guest@127.0.0.1:5672/%2f");
        assert_eq!(
            (parts.userinfo, parts.host, parts.path, parts.query),
            (Some("guest:guest"), "127.0.0.1:5672", "/%2f", None)
        );
    }

    #[test]
    fn a_quota_of_zero_is_refused_at_start() {
        assert!(QuotaSettings::default().check().is_ok());
        let none = QuotaSettings {
            new_clients_per_day: 0,
            ..QuotaSettings::default()
        };
        assert!(none.check().is_err());
        let wide = QuotaSettings {
            max_service_radius_km: 501.0,
            ..QuotaSettings::default()
        };
        assert!(wide.check().is_err());
    }

    #[test]
    fn a_reminder_after_its_escalation_is_refused_at_start() {
        assert!(DeadlineSettings::default().check().is_ok());
        let reordered = DeadlineSettings {
            guidance_reminder_hours: 72,
            ..DeadlineSettings::default()
        };
        assert!(reordered.check().is_err());
        let whole_window = DeadlineSettings {
            booking_reminder_share: 1.0,
            ..DeadlineSettings::default()
        };
        assert!(whole_window.check().is_err());
    }

    #[test]
    fn one_quota_can_be_set_and_the_others_keep_their_defaults() {
        let file = std::env::temp_dir().join(format!("spotter-quotas-{}.toml", std::process::id()));
        std::fs::write(&file, "[quotas]\nnew_clients_per_day = 7\n").unwrap();
        let settings =
            load_with("referral", Some(&file), Environment::with_prefix("UNSET_")).unwrap();
        std::fs::remove_file(&file).unwrap();
        assert_eq!(settings.quotas.new_clients_per_day, 7);
        assert_eq!(settings.quotas.open_referrals_per_trainer, 50);
    }

    #[test]
    fn database_name_is_replaced_keeping_host_and_query() {
        assert_eq!(
            replace_database_name("postgres://u:p@h:5432/old?sslmode=disable", "new"),
            "postgres://u:p@h:5432/new?sslmode=disable"
        );
        assert_eq!(
            replace_database_name("postgres://u@h", "new"),
            "postgres://u@h/new"
        );
    }

    #[test]
    fn defaults_give_each_service_its_own_database() {
        let settings = load_from("booking", None).unwrap();
        assert_eq!(settings.database.database_name(), "spotter_booking");
        assert_eq!(settings.broker.exchange, "spotter.events");
        assert!(!settings.auth.dev_mode, "production is the default");
    }

    #[test]
    fn neither_a_file_nor_the_environment_can_switch_dev_mode_on() {
        let file =
            std::env::temp_dir().join(format!("spotter-dev-mode-{}.toml", std::process::id()));
        std::fs::write(&file, "[auth]\ndev_mode = true\n").unwrap();
        let variables = std::collections::HashMap::from([(
            "SPOTTER_AUTH__DEV_MODE".to_owned(),
            "true".to_owned(),
        )]);
        let settings = load_with(
            "booking",
            Some(&file),
            environment().source(Some(variables)),
        )
        .unwrap();
        std::fs::remove_file(&file).unwrap();
        assert!(!settings.auth.dev_mode);
    }

    #[test]
    fn secrets_do_not_print() {
        let settings = load_from("referral", None).unwrap();
        let printed = format!("{settings:?}");
        assert!(!printed.contains("guest:guest"), "{printed}");
    }
}
