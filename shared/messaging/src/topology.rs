//! The broker topology, declared in one place. Declarations are idempotent, so
//! every process declares what it uses at each (re)connect.

use lapin::options::ExchangeDeclareOptions;
use lapin::types::FieldTable;
use lapin::{Channel, ExchangeKind};

/// The one topic exchange all events go through (DESIGN §4). Durable, so it
/// survives a broker restart together with the queues bound to it.
pub async fn declare_exchange(channel: &Channel, exchange: &str) -> lapin::Result<()> {
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
}
