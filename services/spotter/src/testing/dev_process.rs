//! `spotter dev` as a newcomer runs it: the real binary in a process of its
//! own, on databases and broker names of the test's own, with its dev key.
//! It can be SIGKILLed and started again on the same port.

use spotter_auth::{Role, SigningKey, dev_token, ensure_dev_keys};
use spotter_db::testing::TestDatabase;
use spotter_messaging::testing::{BrokerCleanup, ServiceUsers};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use uuid::Uuid;

pub struct DevProcess {
    pub base_url: String,
    pub keys_dir: PathBuf,
    /// Taken by a test that signals the process and waits for it itself.
    pub child: Option<Child>,
    binary: PathBuf,
    port: u16,
    db_prefix: String,
    broker_prefix: String,
    key: SigningKey,
    service_accounts: bool,
    databases: Vec<TestDatabase>,
    _service_users: Option<ServiceUsers>,
    _broker_names: BrokerCleanup,
}

impl DevProcess {
    /// Starts `binary dev` (the `spotter` command) on a free port, on
    /// databases made here from the migrated templates (fast): `spotter dev`
    /// finds them under the names its `--db-prefix` gives.
    pub async fn start(binary: &Path) -> Self {
        Self::start_with(binary, true).await
    }

    /// As `make run` on a newcomer's machine: `spotter dev --service-accounts`
    /// creates and migrates its databases itself (they are still dropped
    /// afterwards), each service connected as its own database role and
    /// broker user, which may publish only that service's events on this
    /// test's exchange.
    pub async fn start_from_nothing(binary: &Path) -> Self {
        Self::start_with(binary, false).await
    }

    /// The database `spotter dev` gives `service`.
    pub fn database(&self, service: &str) -> String {
        format!("{}{service}", self.db_prefix)
    }

    /// Runs one SQL statement in `service`'s database (a test standing in
    /// for the clock); the rows it touched.
    pub async fn execute(&self, service: &str, sql: &str) -> usize {
        let name = self.database(service);
        let database = self.databases.iter().find(|d| d.name() == name);
        database
            .unwrap_or_else(|| panic!("no database {name}"))
            .execute(sql)
            .await
            .unwrap()
    }

    async fn start_with(binary: &Path, premade_databases: bool) -> Self {
        let service_accounts = !premade_databases;
        let id = Uuid::new_v4().simple().to_string();
        let keys_dir = std::env::temp_dir().join(format!("spotter-keys-{id}"));
        let key = ensure_dev_keys(&keys_dir).unwrap().key;
        let db_prefix = format!("spotter_dev_{}_", &id[..12]);
        let mut databases = Vec::new();
        for service in crate::SERVICES {
            let name = format!("{db_prefix}{service}");
            let database = if premade_databases {
                let dirs = spotter_service::testing::migration_dirs(service);
                TestDatabase::create_named(name, service, &dirs).await
            } else {
                TestDatabase::claim(name)
            };
            databases.push(database.unwrap());
        }
        let broker_prefix = format!("t{id}.");
        let mut broker = spotter_platform::settings::load_from("test", None)
            .unwrap()
            .broker;
        broker.exchange = format!("{broker_prefix}spotter.events");
        broker.queue_prefix = broker_prefix.clone();
        let mut process = Self {
            base_url: String::new(),
            keys_dir,
            child: None,
            binary: binary.to_owned(),
            port: 0,
            db_prefix,
            broker_prefix,
            key,
            service_accounts,
            databases,
            _service_users: service_accounts.then(|| ServiceUsers::grant(&broker.exchange)),
            _broker_names: BrokerCleanup {
                settings: broker,
                consumers: Vec::new(),
            },
        };
        process.spawn();
        process
    }

    /// Starts the process and waits for its banner.
    fn spawn(&mut self) {
        let mut child = Command::new(&self.binary)
            .args(["dev", "--port", &self.port.to_string()])
            .args(["--db-prefix", &self.db_prefix])
            .arg("--keys-dir")
            .arg(&self.keys_dir)
            .env(
                "SPOTTER_BROKER__EXCHANGE",
                format!("{}spotter.events", self.broker_prefix),
            )
            .env("SPOTTER_BROKER__QUEUE_PREFIX", &self.broker_prefix)
            .env("SPOTTER_LOG__LEVEL", "warn")
            .env(
                "SPOTTER_DEV_SERVICE_ACCOUNTS",
                self.service_accounts.to_string(),
            )
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base_url = loop {
            let line = lines
                .next()
                .expect("spotter dev exited before listening")
                .unwrap();
            if let Some(url) = line.strip_prefix("Spotter dev stack listening on ") {
                break url.trim().to_owned();
            }
        };
        // Keep draining stdout so its later lines never hit a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        self.port = base_url.rsplit(':').next().unwrap().parse().unwrap();
        self.base_url = base_url;
        self.child = Some(child);
    }

    /// SIGKILL: every service in it dies at once, nothing graceful.
    pub fn kill(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Starts it again, on the same port.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// A token signed with the dev key, as `spotter token` makes it.
    pub fn token(&self, role: Role, sub: Uuid, clinic: Option<Uuid>) -> String {
        dev_token(
            &self.key,
            role,
            sub,
            clinic,
            std::time::Duration::from_secs(3600),
        )
        .unwrap()
    }
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.keys_dir);
    }
}
