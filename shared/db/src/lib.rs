//! PostgreSQL access shared by the services: a pool of async diesel connections,
//! embedded migrations applied at start, readiness, and per-test databases.
//!
//! Every service owns its own database (database per service); nothing here
//! ever points one service at another's.

pub mod coded;
mod create;
pub mod deadlines;
mod errors;
pub mod idempotency;
mod listen;
mod migrate;
mod pool;
mod prepared;
pub mod retention;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;
pub mod upkeep;
pub mod wake;

pub use create::{database_owner, ensure_database_exists, ensure_owned_database};
pub use diesel_migrations::{EmbeddedMigrations, embed_migrations};
pub use errors::{
    OrNotFound, Work, checkout, db_error, is_exclusion_violation, is_lock_unavailable, transaction,
};
pub use listen::{listen, notify};
pub use migrate::{pending_migrations, run_migrations};
pub use pool::{Conn, DbReadiness, Pool, connect};
pub use prepared::{Prepared, prepared};
pub use tls::{PgTarget, establish};

/// This crate's tables (idempotency keys) and the `spotter_notify(channel)`
/// trigger function, migrated into every service's database first.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
