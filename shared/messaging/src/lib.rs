//! Everything that crosses RabbitMQ: the supervised connection, the topology,
//! the transactional outbox and its relay, and idempotent consumers.
//! The rules this crate enforces are in docs/architecture.md, "Messaging".

pub mod broker;
pub mod consumer;
pub mod dead_letters;
mod delivery;
pub mod metrics;
pub mod outbox;
mod parked;
pub mod retention;
mod schema;
#[cfg(feature = "testing")]
pub mod testing;
pub mod topology;
pub mod trace;

pub use broker::Broker;
pub use consumer::{
    Admission, Admitted, Consumer, ConsumerSpec, Handler, HandlerError, Incoming,
    in_order_per_correlation,
};

pub use outbox::{OutboundMessage, Relay, RelayConfig, enqueue, enqueue_message};

/// This crate's tables (outbox, inbox), migrated into every service's database
/// after [`spotter_db::MIGRATIONS`] (whose `spotter_notify()` wakes the relay)
/// and before the service's own migrations.
pub const MIGRATIONS: spotter_db::EmbeddedMigrations = spotter_db::embed_migrations!("migrations");
