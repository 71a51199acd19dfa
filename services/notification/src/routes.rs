//! Every path the notification service serves, in one tree.

use crate::{inbox, openapi};
use actix_web::web;
use spotter_platform::ServiceModule;
use spotter_platform::http::under_any;
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
    under_any(path, &PREFIXES)
}

pub fn module(_foundations: Foundations) -> anyhow::Result<ServiceModule> {
    let configure = Arc::new(move |cfg: &mut web::ServiceConfig| {
        cfg.route("/v1/notifications", web::get().to(inbox::list));
    });
    Ok(ServiceModule {
        name: "notification",
        owns_path,
        configure,
        readiness: Vec::new(),
        openapi: openapi::document(),
        tasks: Vec::new(),
    })
}
