//! Every path the booking service serves, in one tree, and its workers.

use crate::admin::{clinics, hours, physios, policy, refusals, schedule, time_off, worklist};
use crate::appointments::{actions, api, bring_forward, decline};
use crate::deadline::BookingDeadline;
use crate::engine::book::Rules;
use crate::lanes::{self, LaneMetrics};
use crate::urgent_first::UrgentFirst;
use crate::{consumer, openapi, waitlist};
use actix_web::web;
use spotter_db::deadlines;
use spotter_platform::http::{clinic_subresource, under_any};
use spotter_platform::{BackgroundTask, ServiceModule};
use spotter_service::Foundations;
use std::sync::Arc;

/// The paths a gateway (or the dev stack) sends to this service.
/// `/admin/v1/clinics/{id}/referrals` is the referral service's and is
/// matched there first; everything else under clinics is ours.
pub fn owns_path(path: &str) -> bool {
    const PREFIXES: [&str; 5] = [
        "/v1/appointments",
        "/admin/v1/clinics",
        "/admin/v1/physios",
        "/admin/v1/worklist",
        "/admin/v1/dead-letters/booking",
    ];
    // A clinic's referrals are the referral service's, its webhooks the
    // notification service's.
    under_any(path, &PREFIXES)
        && !matches!(clinic_subresource(path), Some("referrals" | "webhooks"))
}

fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/clinics", web::post().to(clinics::create))
        .service(
            web::resource("/admin/v1/clinics/{clinic_id}")
                .route(web::get().to(clinics::get))
                .route(web::patch().to(clinics::update)),
        )
        .route(
            "/admin/v1/clinics/{clinic_id}/booking-policy",
            web::put().to(policy::put),
        )
        .service(
            web::resource("/admin/v1/clinics/{clinic_id}/physios")
                .route(web::post().to(physios::add))
                .route(web::get().to(physios::list)),
        )
        .route(
            "/admin/v1/clinics/{clinic_id}/appointments",
            web::get().to(schedule::appointments),
        )
        .route(
            "/admin/v1/clinics/{clinic_id}/waitlist",
            web::get().to(schedule::waitlist),
        )
        .route(
            "/admin/v1/clinics/{clinic_id}/refusals",
            web::get().to(refusals::summary),
        )
        .route("/admin/v1/worklist", web::get().to(worklist::list))
        .route(
            "/admin/v1/worklist/{referral_id}/release",
            web::post().to(worklist::release),
        )
        .route(
            "/admin/v1/physios/{physio_id}",
            web::patch().to(physios::update),
        )
        .route(
            "/admin/v1/physios/{physio_id}/weekly-hours",
            web::put().to(hours::put),
        )
        .route(
            "/admin/v1/physios/{physio_id}/time-off",
            web::post().to(time_off::add),
        )
        .route(
            "/admin/v1/physios/{physio_id}/time-off/{time_off_id}",
            web::delete().to(time_off::remove),
        )
        .route("/v1/appointments", web::get().to(api::list_mine))
        .route("/v1/appointments/{appointment_id}", web::get().to(api::get))
        .route(
            "/v1/appointments/{appointment_id}/complete",
            web::post().to(actions::complete),
        )
        .route(
            "/v1/appointments/{appointment_id}/no-show",
            web::post().to(actions::no_show),
        )
        .route(
            "/v1/appointments/{appointment_id}/cancel",
            web::post().to(actions::cancel_by_clinic),
        )
        .route(
            "/v1/appointments/{appointment_id}/decline",
            web::post().to(decline::decline),
        )
        .route(
            "/v1/appointments/{appointment_id}/reschedule",
            web::post().to(actions::reschedule),
        )
        .route(
            "/v1/appointments/{appointment_id}/bring-forward",
            web::post().to(bring_forward::bring_forward),
        );
}

pub fn module(foundations: Foundations) -> anyhow::Result<ServiceModule> {
    let metrics = LaneMetrics::new()?;
    let quotas = foundations.settings.quotas;
    quotas.check()?;
    let deadline_settings = foundations.settings.deadlines;
    deadline_settings.check()?;
    let rules = Rules {
        refusals_before_review: quotas.refusals_before_review,
        deadline_reminder_share: deadline_settings.booking_reminder_share,
    };
    let quotas = web::Data::new(quotas);
    let urgent_first = UrgentFirst::across_replicas(foundations.pool.clone());
    let mut tasks: Vec<BackgroundTask> = consumer::specs(&metrics, rules, &urgent_first)
        .into_iter()
        .map(|spec| foundations.consumer(spec))
        .collect();
    let url = foundations.settings.database.url.clone();
    tasks.push(Box::new(move |shutdown| {
        Box::pin(urgent_first.hear_announcements(url, shutdown))
    }));
    let pool = foundations.pool.clone();
    let url = foundations.settings.database.url.clone();
    tasks.push(Box::new(move |shutdown| {
        Box::pin(waitlist::run(pool, url, rules, shutdown))
    }));
    let (fire_deadlines, deadline_metrics) = deadlines::worker(
        "booking",
        foundations.pool.clone(),
        foundations.settings.database.url.clone(),
        BookingDeadline,
    )?;
    tasks.push(fire_deadlines);
    let (broker, lane_metrics) = (foundations.broker.clone(), metrics.clone());
    tasks.push(Box::new(move |shutdown| {
        Box::pin(lanes::probe_depths(broker, lane_metrics, shutdown))
    }));
    Ok(ServiceModule {
        name: "booking",
        owns_path,
        configure: Arc::new(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(quotas.clone());
            cfg.app_data(web::Data::new(rules));
            configure(cfg);
        }),
        readiness: Vec::new(),
        openapi: openapi::document(),
        tasks,
        collectors: metrics
            .collectors()
            .into_iter()
            .chain(deadline_metrics.collectors())
            .collect(),
    })
}
