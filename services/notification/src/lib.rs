//! The notification service: the in-app inbox, devices, push delivery,
//! reminders and the live stream (docs/architecture.md, "Ownership").

pub mod attempt_metrics;
pub mod consumer;
pub mod deadline_notices;
pub mod devices;
pub mod follow_up_notices;
pub mod inbox;
pub mod notices;
pub mod openapi;
pub mod preferences;
pub mod push;
pub mod reminders;
mod retry;
mod routes;
mod schema;
mod store;
pub mod stream;
pub mod training_notices;
pub mod webhooks;

use futures_util::future::BoxFuture;
use spotter_db::{EmbeddedMigrations, embed_migrations};
use spotter_platform::ServiceModule;
use spotter_service::{Foundations, ServiceDefinition};

pub use routes::owns_path;

pub struct Notification;

pub type Application = spotter_service::Application<Notification>;

impl ServiceDefinition for Notification {
    const NAME: &'static str = "notification";
    const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");
    const RETENTION: &'static [spotter_db::retention::Rule] = &[
        push::delivery::FINISHED_PUSHES,
        webhooks::delivery::FINISHED_WEBHOOKS,
    ];

    fn module(foundations: Foundations) -> BoxFuture<'static, anyhow::Result<ServiceModule>> {
        Box::pin(async move { routes::module(foundations) })
    }
}
