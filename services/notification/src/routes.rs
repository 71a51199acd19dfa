//! Every path the notification service serves, in one tree.

use crate::attempt_metrics::AttemptMetrics;
use crate::push::{Providers, delivery};
use crate::stream::{self, StreamHub};
use crate::webhooks::{api as webhooks, delivery as webhook_delivery, log_api as webhook_log};
use crate::{consumer, devices, inbox, openapi, preferences, reminders};
use actix_web::web;
use spotter_platform::http::{clinic_subresource, under_any};
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
    under_any(path, &PREFIXES) || clinic_subresource(path) == Some("webhooks")
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
        )
        .service(
            web::resource("/admin/v1/clinics/{clinic_id}/webhooks")
                .route(web::post().to(webhooks::create))
                .route(web::get().to(webhooks::list)),
        )
        .service(
            web::resource("/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}")
                .route(web::get().to(webhooks::get))
                .route(web::patch().to(webhooks::update))
                .route(web::delete().to(webhooks::delete)),
        )
        .route(
            "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}/rotate-secret",
            web::post().to(webhooks::rotate_secret),
        )
        .route(
            "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}/test",
            web::post().to(webhooks::test),
        )
        .route(
            "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}/deliveries",
            web::get().to(webhook_log::deliveries),
        )
        .route(
            "/admin/v1/clinics/{clinic_id}/webhooks/{webhook_id}/messages/{message_id}/redeliver",
            web::post().to(webhook_log::redeliver),
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
    let attempts = AttemptMetrics::new()?;
    let collectors = hub
        .collectors()
        .into_iter()
        .chain(attempts.collectors())
        .collect();
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
    let push_attempts = attempts.clone();
    let push: BackgroundTask = Box::new(move |shutdown| {
        Box::pin(delivery::run(pool, url, providers, push_attempts, shutdown))
    });
    let webhook_settings = foundations.settings.webhooks;
    webhook_settings.check()?;
    let client = webhook_delivery::client(&webhook_settings)?;
    let (pool, url) = (
        foundations.pool.clone(),
        foundations.settings.database.url.clone(),
    );
    let send_webhooks: BackgroundTask = Box::new(move |shutdown| {
        Box::pin(webhook_delivery::run(
            pool,
            url,
            webhook_settings,
            client,
            attempts,
            shutdown,
        ))
    });
    let webhook_settings = web::Data::new(webhook_settings);
    Ok(ServiceModule {
        name: "notification",
        owns_path,
        configure: Arc::new(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(hub.clone());
            cfg.app_data(webhook_settings.clone());
            configure(cfg);
        }),
        readiness: Vec::new(),
        openapi: openapi::document(),
        tasks: vec![consume, fan_out, remind, push, send_webhooks],
        collectors,
    })
}
