//! One supervised AMQP connection per service.
//!
//! lapin's auto-recovery has open reports of hanging (amqp-rs/lapin#450), so
//! we don't rely on it: this supervisor connects, declares the topology, hands
//! the connection to whoever watches it (relay, consumers), and on any error
//! drops it and reconnects with back-off. Watchers rebuild their channels when
//! a new connection is published. Every broker await is bounded by a timeout.

use crate::topology;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use lapin::ConnectionProperties;
use spotter_platform::ReadinessCheck;
use spotter_platform::settings::BrokerSettings;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long any single broker operation may take before we call it failed.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Heartbeats find a dead peer that never closed the socket (cable pulled, VM
/// frozen); RabbitMQ's default of 60 s would leave us "ready" for a minute.
const HEARTBEAT_SECONDS: u16 = 5;

pub type SharedConnection = Arc<lapin::Connection>;

#[derive(Clone)]
pub struct Broker {
    current: watch::Receiver<Option<SharedConnection>>,
    settings: BrokerSettings,
    connection_name: String,
    /// Set at the first connection: until then a broker that is down is as
    /// likely a wrong URL, password or CA as an outage (see `readiness`).
    has_connected: Arc<AtomicBool>,
}

impl Broker {
    /// Starts the supervisor; it runs until `shutdown` is cancelled.
    /// `connection_name` shows in the broker's management UI and lets tests cut
    /// exactly this connection with `rabbitmqctl close_connection`. With
    /// several nodes configured, replicas begin at a random one, so that
    /// their connections spread over a cluster.
    pub fn start(
        settings: &BrokerSettings,
        connection_name: &str,
        shutdown: CancellationToken,
    ) -> Self {
        let nodes = settings.addresses().len().max(1);
        let first = usize::try_from(Uuid::new_v4().as_u128() % nodes as u128).unwrap_or(0);
        Self::start_at(settings, connection_name, first, shutdown)
    }

    /// [`Broker::start`], trying the configured nodes from `first` on.
    pub fn start_at(
        settings: &BrokerSettings,
        connection_name: &str,
        first: usize,
        shutdown: CancellationToken,
    ) -> Self {
        let (sender, current) = watch::channel(None);
        let broker = Self {
            current,
            settings: settings.clone(),
            connection_name: connection_name.to_owned(),
            has_connected: Arc::default(),
        };
        tokio::spawn(supervise(broker.clone(), sender, first, shutdown));
        broker
    }

    pub fn settings(&self) -> &BrokerSettings {
        &self.settings
    }

    pub fn connection_name(&self) -> &str {
        &self.connection_name
    }

    /// The live connection, if there is one right now.
    pub fn current(&self) -> Option<SharedConnection> {
        self.current
            .borrow()
            .clone()
            .filter(|c| c.status().connected())
    }

    pub fn is_connected(&self) -> bool {
        self.current().is_some()
    }

    /// Waits for a live connection (or returns `None` once `shutdown` fires).
    pub async fn connected(&self, shutdown: &CancellationToken) -> Option<SharedConnection> {
        let mut watcher = self.current.clone();
        loop {
            if let Some(conn) = watcher
                .borrow_and_update()
                .clone()
                .filter(|c| c.status().connected())
            {
                return Some(conn);
            }
            tokio::select! {
                () = shutdown.cancelled() => return None,
                changed = watcher.changed() => if changed.is_err() { return None },
                // A connection that died without a supervisor update yet.
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }

    /// How many messages wait in `queue` (its full name, prefix included)
    /// right now.
    pub async fn queue_depth(&self, queue: &str) -> anyhow::Result<u32> {
        let connection = self
            .current()
            .ok_or_else(|| anyhow::anyhow!("not connected to the broker"))?;
        tokio::time::timeout(BROKER_TIMEOUT, ready_messages(&connection, queue)).await?
    }

    pub fn readiness(&self, name: &str) -> Arc<dyn ReadinessCheck> {
        Arc::new(BrokerReadiness {
            name: name.to_owned(),
            broker: self.clone(),
        })
    }
}

async fn supervise(
    broker: Broker,
    sender: watch::Sender<Option<SharedConnection>>,
    first: usize,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    let addresses = valid_addresses(&broker.settings);
    let mut next = first;
    while !shutdown.is_cancelled() {
        match connect_any(&broker, &addresses, &mut next).await {
            Ok((conn, node)) => {
                tracing::info!(connection = %broker.connection_name, %node, "connected to the broker");
                broker.has_connected.store(true, Ordering::SeqCst);
                backoff = Duration::from_millis(200);
                let mut events = conn.events_listener();
                let conn = Arc::new(conn);
                let _ = sender.send(Some(conn.clone()));
                loop {
                    tokio::select! {
                        () = shutdown.cancelled() => {
                            let _ = sender.send(None);
                            let _ = tokio::time::timeout(
                                Duration::from_secs(2),
                                conn.close(200, "shutting down".into()),
                            ).await;
                            return;
                        }
                        event = events.next() => match event {
                            Some(lapin::Event::Error(err)) => {
                                tracing::warn!(error = %err, "broker connection lost");
                                break;
                            }
                            None => break,
                            Some(_) => {}
                        },
                        () = tokio::time::sleep(Duration::from_secs(1)) => {
                            if !conn.status().connected() {
                                tracing::warn!("broker connection no longer open");
                                break;
                            }
                        }
                    }
                }
                let _ = sender.send(None);
            }
            Err(err) => {
                tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "broker unreachable");
            }
        }
        pause(&shutdown, backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// For `amqps://`: the broker's CA from `ca_file`, else lapin verifies
/// against the operating system's trust store. Read at each connect, so a
/// renewed CA file is picked up without a restart.
fn tls_config(settings: &BrokerSettings) -> anyhow::Result<lapin::tcp::OwnedTLSConfig> {
    let cert_chain = match &settings.ca_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("broker ca_file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    Ok(lapin::tcp::OwnedTLSConfig {
        identity: None,
        cert_chain,
    })
}

/// The configured nodes whose URL parses. A URL that does not is left out
/// and named by its place only: a parse error quotes the URL, password
/// included, and the log must never hold it.
fn valid_addresses(settings: &BrokerSettings) -> Vec<String> {
    let addresses = settings.addresses();
    let count = addresses.len();
    addresses
        .into_iter()
        .enumerate()
        .filter(|(place, url)| {
            let valid = url.parse::<lapin::uri::AMQPUri>().is_ok();
            if !valid {
                tracing::error!(
                    node = place + 1,
                    of = count,
                    "broker.url: this node's URL is not an amqp:// or amqps:// URL; skipped"
                );
            }
            valid
        })
        .map(|(_, url)| url)
        .collect()
}

/// Each node once, from `next` on: the first that connects wins, and the
/// next attempt (after this connection is lost) begins at the node after
/// it, so a node that just failed is tried last.
async fn connect_any(
    broker: &Broker,
    addresses: &[String],
    next: &mut usize,
) -> anyhow::Result<(lapin::Connection, String)> {
    let mut failure = anyhow::anyhow!("no broker URL configured (broker.url)");
    for offset in 0..addresses.len() {
        let index = (*next + offset) % addresses.len();

        let url = &addresses[index];
        match connect(broker, url).await {
            Ok(conn) => {
                *next = (index + 1) % addresses.len();
                return Ok((conn, node_of(url)));
            }
            Err(err) => {
                if addresses.len() > 1 {
                    tracing::warn!(node = %node_of(url), error = %err, "broker node unreachable; trying the next");
                }
                failure = err;
            }
        }
    }
    Err(failure)
}

/// `url` without its credentials, for the log: `amqps://host:5671/vhost`.
fn node_of(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
            let rest = rest.split_once('?').map_or(rest, |(address, _)| address);
            format!("{scheme}://{rest}")
        }
        None => "(not a URL)".to_owned(),
    }
}

async fn connect(broker: &Broker, url: &str) -> anyhow::Result<lapin::Connection> {
    let uri = with_heartbeat(url);
    let properties =
        ConnectionProperties::default().with_connection_name(broker.connection_name.clone().into());
    let tls = tls_config(&broker.settings)?;
    let connecting = lapin::Connection::connect_with_config(
        &uri,
        properties,
        tls,
        lapin::runtime::default_runtime()?,
    );
    let conn = tokio::time::timeout(BROKER_TIMEOUT, connecting)
        .await
        .map_err(|_| anyhow::anyhow!("connecting timed out"))??;
    let channel = tokio::time::timeout(BROKER_TIMEOUT, conn.create_channel())
        .await
        .map_err(|_| anyhow::anyhow!("opening a channel timed out"))??;
    tokio::time::timeout(
        BROKER_TIMEOUT,
        topology::declare_all(&channel, &broker.settings),
    )
    .await
    .map_err(|_| anyhow::anyhow!("declaring the topology timed out"))??;
    let _ = channel.close(200, "topology declared".into()).await;
    let retired = tokio::time::timeout(
        BROKER_TIMEOUT,
        topology::retire_old_queues(&conn, &broker.settings),
    )
    .await;
    match retired {
        Ok(Ok(found)) => {
            for (queue, messages) in found {
                tracing::warn!(
                    %queue,
                    messages,
                    "a retired queue is still here (unbound: it no longer fills); once empty \
                     and no earlier version consumes it, delete it (docs/architecture.md, \"Booking lanes\")"
                );
            }
        }
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "retiring old queues failed; trying at the next connect")
        }
        Err(_) => tracing::warn!("retiring old queues timed out; trying at the next connect"),
    }
    Ok(conn)
}

/// Messages ready in `queue`: a passive declare, which creates nothing (on a
/// channel of its own, since asking after a missing queue closes it).
pub async fn ready_messages(connection: &lapin::Connection, queue: &str) -> anyhow::Result<u32> {
    Ok(passive_declare(connection, queue).await?.message_count())
}

/// Consumers attached to `queue` right now, from the same passive declare.
pub async fn consumers_of(connection: &lapin::Connection, queue: &str) -> anyhow::Result<u32> {
    Ok(passive_declare(connection, queue).await?.consumer_count())
}

async fn passive_declare(
    connection: &lapin::Connection,
    queue: &str,
) -> anyhow::Result<lapin::Queue> {
    let channel = connection.create_channel().await?;
    let declared = channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await?;
    let _ = channel.close(200, "counted".into()).await;
    Ok(declared)
}

/// Sleeps for `duration`, or less if `shutdown` fires first: every retry loop
/// in this crate waits this way so that stopping is never held up by a back-off.
pub(crate) async fn pause(shutdown: &CancellationToken, duration: Duration) {
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = tokio::time::sleep(duration) => {}
    }
}

/// Awaits a publisher confirm and says whether the message is safe: acked by
/// the broker and not returned as unroutable (a `mandatory` publish that no
/// queue took is confirmed *and* returned; docs/architecture.md, "Messaging").
pub(crate) async fn confirmed(confirm: lapin::PublisherConfirm) -> bool {
    match tokio::time::timeout(BROKER_TIMEOUT, confirm).await {
        Ok(Ok(confirmation)) => confirmation.is_ack() && confirmation.take_message().is_none(),
        _ => false,
    }
}

fn with_heartbeat(uri: &str) -> String {
    if uri.contains("heartbeat=") {
        uri.to_owned()
    } else if uri.contains('?') {
        format!("{uri}&heartbeat={HEARTBEAT_SECONDS}")
    } else {
        format!("{uri}?heartbeat={HEARTBEAT_SECONDS}")
    }
}

struct BrokerReadiness {
    name: String,
    broker: Broker,
}

impl ReadinessCheck for BrokerReadiness {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            if self.broker.is_connected() {
                Ok(())
            } else {
                Err("not connected to RabbitMQ; reconnecting".to_owned())
            }
        })
    }

    /// The outbox keeps what is written while the broker is away, and
    /// requests that need no message still work: degraded, not down. Until
    /// the first connection, though, it is required: a wrong URL, password or
    /// CA must hold a rollout back, not pass as an outage.
    fn required(&self) -> bool {
        !self.broker.has_connected.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::node_of;

    #[test]
    fn a_node_is_logged_without_its_credentials() {
        assert_eq!(
            node_of("amqps://spotter-booking:s3cr@t@mq-1.internal:5671/spotter?heartbeat=5"),
            "amqps://mq-1.internal:5671/spotter"
        );
        assert_eq!(
            node_of("amqp://127.0.0.1:5672/%2f"),
            "amqp://127.0.0.1:5672/%2f"
        );
        assert_eq!(node_of("guest:guest@nowhere"), "(not a URL)");
    }
}
