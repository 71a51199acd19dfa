//! The network the load runs on, made through the admin API as a platform
//! admin and clinic admins would: 2 clinics in each of 5 cities far enough
//! apart that no service area overlaps another city, trainers in those
//! cities, and one far-away clinic with a trainer of its own (the empty
//! region whose booking cost phase 4 measures).
//!
//! Each run makes a fresh network and retires the previous run's clinics
//! (`accepts_referrals: false`; their ids are kept beside the dev keys, one
//! file per stack address): booking then neither offers their slots nor
//! loads their diaries, so every run starts with the same empty capacity
//! instead of diaries filled by the runs before it.

use crate::dev_api::{Api, id_of};
use futures_util::future::try_join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use spotter_auth::Role;
use std::path::Path;
use std::sync::Arc;
use uuid::Uuid;

struct City {
    name: &'static str,
    timezone: &'static str,
    lat: f64,
    lon: f64,
}

/// Hundreds of kilometres apart: with 15 km radii, no overlap. None is
/// London, where `spotter demo` keeps its clinic.
const CITIES: [City; 5] = [
    city("Lisbon", "Europe/Lisbon", 38.722, -9.139),
    city("Oslo", "Europe/Oslo", 59.913, 10.752),
    city("Vienna", "Europe/Vienna", 48.208, 16.373),
    city("Warsaw", "Europe/Warsaw", 52.229, 21.012),
    city("Athens", "Europe/Athens", 37.984, 23.728),
];
/// Phase 4's empty region, a long way from every other clinic.
const SOLO: City = city("Reykjavik", "Atlantic/Reykjavik", 64.146, -21.942);
const CLINICS_PER_CITY: usize = 2;
const RADIUS_KM: f64 = 15.0;

const fn city(name: &'static str, timezone: &'static str, lat: f64, lon: f64) -> City {
    City {
        name,
        timezone,
        lat,
        lon,
    }
}

pub struct Network {
    /// Trainer tokens, city by city.
    pub trainers: Vec<Arc<str>>,
    pub solo_trainer: Arc<str>,
    /// Every clinic of this run, the solo one included.
    pub clinic_ids: Vec<Uuid>,
}

pub async fn build(
    api: &Api,
    physios_per_clinic: usize,
    trainers_per_city: usize,
    state_file: &Path,
) -> anyhow::Result<Network> {
    let admin = api.token(Role::PlatformAdmin, Uuid::now_v7(), None)?;
    retire_previous(api, &admin, state_file).await?;

    let mut clinics = Vec::new();
    for city in &CITIES {
        for i in 0..CLINICS_PER_CITY {
            // A little either side of the centre: each reaches all of its city's trainers.
            let lon = city.lon + if i % 2 == 0 { -0.02 } else { 0.02 };
            clinics.push(clinic(api, &admin, city, i + 1, lon, physios_per_clinic));
        }
    }
    clinics.push(clinic(api, &admin, &SOLO, 1, SOLO.lon, 1));
    let clinic_ids = try_join_all(clinics).await?;
    let saved: Vec<String> = clinic_ids.iter().map(Uuid::to_string).collect();
    std::fs::write(state_file, saved.join("\n"))?;

    let trainers = CITIES
        .iter()
        .flat_map(|city| (0..trainers_per_city).map(move |k| trainer(api, city, k)));
    let trainers = try_join_all(trainers).await?;
    let solo_trainer = trainer(api, &SOLO, 0).await?;
    println!(
        "  {} clinics × {physios_per_clinic} physios (general, open 00:00–23:59 daily, 45-min assessments, no buffer, no notice, 28-day horizon), {} trainers; solo clinic in {}",
        clinic_ids.len() - 1,
        trainers.len(),
        SOLO.name
    );
    Ok(Network {
        trainers,
        solo_trainer,
        clinic_ids,
    })
}

/// The previous run's clinics stop taking referrals (a missing one is fine:
/// another database, or it is already gone).
async fn retire_previous(api: &Api, admin: &str, state_file: &Path) -> anyhow::Result<()> {
    let Ok(saved) = std::fs::read_to_string(state_file) else {
        return Ok(());
    };
    let retired = json!({"accepts_referrals": false});
    let mut count = 0;
    for id in saved.lines().filter_map(|l| l.trim().parse::<Uuid>().ok()) {
        let path = format!("/admin/v1/clinics/{id}");
        let (status, answer) = api
            .call(Method::PATCH, &path, admin, Some(&retired))
            .await?;
        match status {
            s if s.is_success() => count += 1,
            StatusCode::NOT_FOUND => {}
            s => anyhow::bail!("retiring clinic {id} answered {s}: {answer}"),
        }
    }
    println!("  retired the previous run's {count} clinics (no longer taking referrals)");
    Ok(())
}

async fn clinic(
    api: &Api,
    admin: &str,
    city: &City,
    n: usize,
    lon: f64,
    physios: usize,
) -> anyhow::Result<Uuid> {
    let body = json!({
        "name": format!("bench {} {n}", city.name), "timezone": city.timezone,
        "location": {"lat": city.lat, "lon": lon}, "service_radius_km": RADIUS_KM,
        "accepts_referrals": true
    });
    let id = id_of(
        &api.ok(Method::POST, "/admin/v1/clinics", admin, Some(&body))
            .await?,
    )?;
    let clinic_admin = api.token(Role::ClinicAdmin, Uuid::now_v7(), Some(id))?;
    // Capacity is not what is measured: open all day, bookable at once.
    let policy = json!({"assessment_minutes": 45, "follow_up_minutes": 30, "buffer_minutes": 0, "min_notice_minutes": 0, "horizon_days": 28});
    let path = format!("/admin/v1/clinics/{id}/booking-policy");
    api.ok(Method::PUT, &path, &clinic_admin, Some(&policy))
        .await?;
    let every_day: Vec<Value> = (1..=7)
        .map(|d| json!({"weekday": d, "start": "00:00", "end": "23:59"}))
        .collect();
    let hours = json!({"hours": every_day});
    for p in 0..physios {
        let physio = Uuid::now_v7();
        let body = json!({"user_id": physio, "display_name": format!("bench physio {} {n}.{p}", city.name), "specialties": ["general"]});
        let path = format!("/admin/v1/clinics/{id}/physios");
        api.ok(Method::POST, &path, &clinic_admin, Some(&body))
            .await?;
        let path = format!("/admin/v1/physios/{physio}/weekly-hours");
        api.ok(Method::PUT, &path, &clinic_admin, Some(&hours))
            .await?;
    }
    Ok(id)
}

/// A trainer within about a kilometre of the city centre (both of its
/// clinics reach them); their profile's location decides where they refer.
async fn trainer(api: &Api, city: &City, k: usize) -> anyhow::Result<Arc<str>> {
    let token = api.token(Role::Trainer, Uuid::now_v7(), None)?;
    let dlat = ((k % 5) as f64 - 2.0) * 0.004;
    let dlon = ((k / 5 % 5) as f64 - 2.0) * 0.004;
    let body = json!({
        "display_name": format!("bench trainer {} {k}", city.name),
        "location": {"lat": city.lat + dlat, "lon": city.lon + dlon},
        "certifications": []
    });
    api.ok(Method::PUT, "/v1/trainers/me", &token, Some(&body))
        .await?;
    Ok(token.into())
}
