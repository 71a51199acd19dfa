//! Everything that crosses RabbitMQ: the supervised connection, the topology,
//! the transactional outbox and its relay, and idempotent consumers.
//! DESIGN §4 has the rules this crate enforces.

pub mod broker;
pub mod topology;

pub use broker::Broker;
