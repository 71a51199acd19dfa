//! The booking service: clinics, booking policies, physios, hours, time off,
//! matching and appointments that can never double-book
//! (docs/architecture.md, "Booking").

pub mod admin;
pub mod appointments;
pub mod consumer;
pub mod deadline;
pub mod domain;
pub mod engine;
pub mod lanes;
pub mod openapi;
mod routes;
mod schema;
pub mod urgent_first;
pub mod waitlist;

use futures_util::future::BoxFuture;
use spotter_db::{EmbeddedMigrations, embed_migrations};
use spotter_platform::ServiceModule;
use spotter_service::{Foundations, ServiceDefinition};

pub use routes::owns_path;

pub struct Booking;

pub type Application = spotter_service::Application<Booking>;

impl ServiceDefinition for Booking {
    const NAME: &'static str = "booking";
    const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
    const ADMIN_SQL: &'static str = include_str!("../database-admin.sql");

    fn module(foundations: Foundations) -> BoxFuture<'static, anyhow::Result<ServiceModule>> {
        Box::pin(async move { routes::module(foundations) })
    }
}
