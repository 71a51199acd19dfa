//! Every path the notification service serves, in one tree.

use crate::push::{Providers, delivery};
use crate::stream::{self, StreamHub};
use crate::{consumer, devices, inbox, openapi, preferences, reminders};
use actix_web::web;
use spotter_platform::http::under_any;
use spotter_platform::{BackgroundTask, ServiceModule};
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

fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/notifications", web::get().to(inbox::list))
        .route(
            "/v1/notifications/unread-count",
            web::get().to(inbox::unread_count),
        )
        .route("/v1/notifications/stream", web::get().to(stream::stream))
        .route(
            "/v1/notifications/{notification_id}/read",
            web::post().to(inbox::mark_read),
        )
        .route("/v1/devices", web::post().to(devices::register))
        .route("/v1/devices/{device_id}", web::delete().to(devices::remove))
        .service(
            web::resource("/v1/notification-preferences")
                .route(web::get().to(preferences::get))
                .route(web::put().to(preferences::put)),
        );
}

pub fn module(foundations: Foundations) -> anyhow::Result<ServiceModule> {
    let providers = Providers::from_settings(&foundations.settings.push)?;
    let push_platforms = providers.platforms();
    if push_platforms.is_empty() {
        tracing::info!("push is off: no push provider configured (the inbox still records)");
    }
    let consume = foundations.consumer(consumer::spec(push_platforms.clone()));
    let hub = StreamHub::new(foundations.settings.streams)?;
    let collectors = hub.collectors();
    let (pool, url) = (
        foundations.pool.clone(),
        foundations.settings.database.url.clone(),
    );
    let reader = hub.clone();
    let fan_out: BackgroundTask =
        Box::new(move |shutdown| Box::pin(reader.run(pool, url, shutdown)));
    let hub = web::Data::new(hub);
    let (pool, url) = (
        foundations.pool.clone(),
        foundations.settings.database.url.clone(),
    );
    let remind: BackgroundTask =
        Box::new(move |shutdown| Box::pin(reminders::run(pool, url, push_platforms, shutdown)));
    let (pool, url) = (
        foundations.pool.clone(),
        foundations.settings.database.url.clone(),
    );
    let push: BackgroundTask =
        Box::new(move |shutdown| Box::pin(delivery::run(pool, url, providers, shutdown)));
    Ok(ServiceModule {
        name: "notification",
        owns_path,
        configure: Arc::new(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(hub.clone());
            configure(cfg);
        }),
        readiness: Vec::new(),
        openapi: openapi::document(),
        tasks: vec![consume, fan_out, remind, push],
        collectors,
    })
}
