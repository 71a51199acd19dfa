//! Every path the notification service serves, in one tree.

use crate::{inbox, openapi};
use actix_web::web;
use spotter_platform::ServiceModule;
use spotter_service::Foundations;
use std::sync::Arc;

/// The paths a gateway (or the dev stack) sends to this service.
pub fn owns_path(path: &str) -> bool {
    const PREFIXES: [&str; 4] = [
        "/v1/devices",
        "/v1/notifications",
        "/v1/notification-preferences",
        "/admin/v1/dead-letters/notification",
    ];
    PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

pub fn module(foundations: Foundations) -> anyhow::Result<ServiceModule> {
    let pool = web::Data::new(foundations.pool.clone());
    let verifier = web::Data::new(foundations.verifier.clone());
    let configure = Arc::new(move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(pool.clone())
            .app_data(verifier.clone())
            .route("/v1/notifications", web::get().to(inbox::list));
    });
    Ok(ServiceModule {
        name: "notification",
        owns_path,
        configure,
        readiness: vec![
            Arc::new(spotter_db::DbReadiness {
                name: "notification.database".to_owned(),
                pool: foundations.pool.clone(),
            }),
            foundations.broker.readiness("notification.broker"),
        ],
        openapi: openapi::document(),
        tasks: Vec::new(),
    })
}
