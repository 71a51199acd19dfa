//! The referral service: trainer profiles, clients, injury reports, triage,
//! referrals and the physio's guidance back to the trainer
//! (docs/architecture.md, "Ownership").

pub mod audit;
pub mod clients;
pub mod clinic_view;
pub mod consumer;
pub mod deadlines;
pub mod domain;
pub mod events;
pub mod fhir;
pub mod guidance;
pub mod injury_reports;
pub mod openapi;
pub mod quotas;
pub mod referrals;
mod routes;
mod schema;
pub mod screening;
mod trainers;
pub mod training;
pub mod vocabulary_api;

use futures_util::future::BoxFuture;
use spotter_db::{EmbeddedMigrations, embed_migrations};
use spotter_platform::ServiceModule;
use spotter_service::{Foundations, ServiceDefinition};

pub use routes::owns_path;

pub struct Referral;

pub type Application = spotter_service::Application<Referral>;

impl ServiceDefinition for Referral {
    const NAME: &'static str = "referral";
    const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

    fn module(foundations: Foundations) -> BoxFuture<'static, anyhow::Result<ServiceModule>> {
        Box::pin(async move { routes::module(foundations) })
    }
}
