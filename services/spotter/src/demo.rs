//! `spotter demo`: plays the whole loop against a running `spotter dev`
//! (`make run`), printing what each person sees, so a newcomer can watch the
//! product work. Seeds what it needs once and reuses it on later runs.

use crate::dev_api::Api;
use anyhow::{Context, bail};
use clap::Args;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use spotter_auth::Role;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Args)]
pub struct DemoArgs {
    /// Where `spotter dev` listens.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The dev stack's key pair (the same as `spotter dev` uses).
    #[arg(long, env = "SPOTTER_DEV_KEYS", default_value = ".spotter/dev-keys")]
    keys_dir: PathBuf,
    /// Also write the ids the demo made or used (people, clinic, client,
    /// referral, appointment) to this file as JSON: seed data for tools that
    /// call the API with real ids, like the contract fuzz run.
    #[arg(long)]
    ids_out: Option<PathBuf>,
}

// Fixed people, so that running the demo again finds them again.
const ADMIN: Uuid = Uuid::from_u128(0x0193_a1b0_0000_7000_8000_0000_0000_0d01);
const CLINIC_ADMIN: Uuid = Uuid::from_u128(0x0193_a1b0_0000_7000_8000_0000_0000_0d02);
const PHYSIO: Uuid = Uuid::from_u128(0x0193_a1b0_0000_7000_8000_0000_0000_0d03);
const TRAINER: Uuid = Uuid::from_u128(0x0193_a1b0_0000_7000_8000_0000_0000_0d04);

struct Demo {
    api: Api,
    state_file: PathBuf,
}

/// The demo calls the stack as the app does.
impl std::ops::Deref for Demo {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Demo {
    /// The demo clinic: made on the first run, remembered beside the keys.
    async fn clinic(&self, admin: &str) -> anyhow::Result<Uuid> {
        if let Ok(saved) = std::fs::read_to_string(&self.state_file)
            && let Ok(id) = saved.trim().parse::<Uuid>()
            && self
                .call(Method::GET, &format!("/admin/v1/clinics/{id}"), admin, None)
                .await?
                .0
                .is_success()
        {
            return Ok(id);
        }
        let clinic = json!({"name": "Thames Physio (demo)", "timezone": "Europe/London", "location": {"lat": 51.507, "lon": -0.128}, "service_radius_km": 25, "accepts_referrals": true});
        let created = self
            .ok(Method::POST, "/admin/v1/clinics", admin, Some(&clinic))
            .await?;
        let id: Uuid = created["id"].as_str().context("clinic id")?.parse()?;
        std::fs::write(&self.state_file, id.to_string())?;
        Ok(id)
    }
}

/// A JSON value as plain text (strings without their quotes).
fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn say(who: &str, what: &str) {
    println!("  {who:<13} {what}");
}

fn step(title: &str) {
    println!("\n▶ {title}");
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let demo = Demo {
        api: Api::new(&args.url, &args.keys_dir)?,
        state_file: args.keys_dir.join("demo-clinic"),
    };
    let admin = demo.token(Role::PlatformAdmin, ADMIN, None)?;

    step("Setting up (once): a clinic, a physio with opening hours, a trainer and a client");
    let clinic = demo.clinic(&admin).await?;
    let clinic_admin = demo.token(Role::ClinicAdmin, CLINIC_ADMIN, Some(clinic))?;
    let physio = demo.token(Role::Physio, PHYSIO, Some(clinic))?;
    let trainer = demo.token(Role::Trainer, TRAINER, None)?;
    let policy = json!({"assessment_minutes": 45, "follow_up_minutes": 30, "buffer_minutes": 0, "min_notice_minutes": 0, "horizon_days": 28});
    demo.ok(
        Method::PUT,
        &format!("/admin/v1/clinics/{clinic}/booking-policy"),
        &clinic_admin,
        Some(&policy),
    )
    .await?;
    let new_physio = json!({"user_id": PHYSIO, "display_name": "Alex Morgan", "specialties": ["knee", "general"]});
    let (status, answer) = demo
        .call(
            Method::POST,
            &format!("/admin/v1/clinics/{clinic}/physios"),
            &clinic_admin,
            Some(&new_physio),
        )
        .await?;
    if !status.is_success() && status != StatusCode::CONFLICT {
        bail!("adding the physio answered {status}: {answer}");
    }
    let every_day: Vec<Value> = (1..=7)
        .map(|d| json!({"weekday": d, "start": "07:00", "end": "21:00"}))
        .collect();
    demo.ok(
        Method::PUT,
        &format!("/admin/v1/physios/{PHYSIO}/weekly-hours"),
        &clinic_admin,
        Some(&json!({"hours": every_day})),
    )
    .await?;
    let profile = json!({"display_name": "Sam Carter", "location": {"lat": 51.515, "lon": -0.09}, "certifications": ["REPs Level 3"]});
    demo.ok(Method::PUT, "/v1/trainers/me", &trainer, Some(&profile))
        .await?;
    let clients = demo.ok(Method::GET, "/v1/clients", &trainer, None).await?;
    let client = match clients["items"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["display_name"] == "Jo Client"))
    {
        Some(existing) => existing["id"].clone(),
        None => demo
            .ok(
                Method::POST,
                "/v1/clients",
                &trainer,
                Some(&json!({"display_name": "Jo Client"})),
            )
            .await?["id"]
            .clone(),
    };
    say(
        "clinic admin",
        &format!("clinic {clinic}, physio Alex Morgan open 07:00–21:00 daily"),
    );

    step("The trainer flags a knee injury (pain 5/10, no red flags)");
    let seen_before = |v: &Value| v["items"].as_array().map_or(0, Vec::len);
    let trainer_before = seen_before(
        &demo
            .ok(Method::GET, "/v1/notifications?limit=100", &trainer, None)
            .await?,
    );
    let physio_before = seen_before(
        &demo
            .ok(Method::GET, "/v1/notifications?limit=100", &physio, None)
            .await?,
    );
    let report = json!({
        "client_id": client, "body_region": "knee", "side": "right", "pain_level": 5,
        "onset_date": chrono::Utc::now().date_naive().to_string(),
        "mechanism": "landed awkwardly from a box jump",
        "description": "sharp pain on the inner knee, some swelling",
        "red_flags": [], "consent": {"obtained": true, "method": "in_app"}
    });
    let referral = demo
        .ok(Method::POST, "/v1/injury-reports", &trainer, Some(&report))
        .await?;
    let id = referral["id"].as_str().context("referral id")?.to_owned();
    say(
        "trainer",
        &format!(
            "referral {id}: {} priority, {}",
            referral["priority"], referral["status"]
        ),
    );

    let booked = wait_for(&demo, &id, &trainer, "booked").await?;
    let appointment = booked["appointment"]["id"]
        .as_str()
        .context("appointment")?
        .to_owned();
    say(
        "booking",
        &format!(
            "booked with the physio at {}",
            booked["appointment"]["starts_at"]
        ),
    );
    print_new(&demo, "trainer sees", &trainer, trainer_before, 1).await?;
    print_new(&demo, "physio sees", &physio, physio_before, 1).await?;

    step("The physio sees the client and completes the appointment");
    demo.ok(
        Method::POST,
        &format!("/v1/appointments/{appointment}/complete"),
        &physio,
        Some(&json!({})),
    )
    .await?;
    wait_for(&demo, &id, &trainer, "assessed").await?;
    say("referral", "assessed");

    step("The physio shares guidance for training around the injury");
    let guidance = json!({
        "clearance": "modified_training",
        "avoid": [{"movement": "deep squats and jumps", "reason": "protect the healing ligament"}],
        "exercises": [{"name": "terminal knee extension", "sets": 3, "reps": 15, "hold_seconds": 2, "per_week": 5, "notes": "slow and controlled"}],
        "load_limits": {"max_rpe": 6, "pain_ceiling": 3},
        "review_on": (chrono::Utc::now().date_naive() + chrono::Duration::days(21)).to_string(),
        "notes_for_trainer": "Upper body and hip work as normal; stop if pain passes 3/10."
    });
    demo.ok(
        Method::POST,
        &format!("/v1/referrals/{id}/guidance"),
        &physio,
        Some(&guidance),
    )
    .await?;
    wait_for(&demo, &id, &trainer, "guidance_shared").await?;
    // The guidance, and the follow-up booked from its review date.
    print_new(&demo, "trainer sees", &trainer, trainer_before + 1, 2).await?;
    let read = demo
        .ok(
            Method::GET,
            &format!("/v1/referrals/{id}/guidance"),
            &trainer,
            None,
        )
        .await?;
    let current = &read["current"];
    say(
        "trainer reads",
        &format!("clearance: {}", text(&current["clearance"])),
    );
    say(
        "",
        &format!("avoid: {}", text(&current["avoid"][0]["movement"])),
    );
    say(
        "",
        &format!(
            "do: {} {}×{}, {}×/week",
            text(&current["exercises"][0]["name"]),
            current["exercises"][0]["sets"],
            current["exercises"][0]["reps"],
            current["exercises"][0]["per_week"]
        ),
    );
    say(
        "",
        &format!(
            "limits: RPE ≤ {}, pain ≤ {}/10; review on {}",
            current["load_limits"]["max_rpe"],
            current["load_limits"]["pain_ceiling"],
            current["review_on"]
        ),
    );

    step("The trainer acknowledges it");
    demo.ok(
        Method::POST,
        &format!("/v1/referrals/{id}/guidance/acknowledge"),
        &trainer,
        Some(&json!({})),
    )
    .await?;
    wait_for(&demo, &id, &trainer, "acknowledged").await?;
    // The follow-up, and the acknowledgement.
    print_new(&demo, "physio sees", &physio, physio_before + 1, 2).await?;

    if let Some(path) = &args.ids_out {
        let ids = json!({
            "platform_admin_id": ADMIN, "clinic_admin_id": CLINIC_ADMIN,
            "physio_id": PHYSIO, "trainer_id": TRAINER, "clinic_id": clinic,
            "client_id": client, "referral_id": id, "appointment_id": appointment,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&ids)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }

    step("The referral's timeline");
    let done = demo
        .ok(Method::GET, &format!("/v1/referrals/{id}"), &trainer, None)
        .await?;
    for entry in done["timeline"].as_array().into_iter().flatten() {
        let version = entry["guidance_version"]
            .as_i64()
            .map(|v| format!(", version {v}"))
            .unwrap_or_default();
        say(
            entry["at"].as_str().unwrap_or(""),
            &format!(
                "{} ({}{version})",
                entry["status"].as_str().unwrap_or(""),
                entry["cause"].as_str().unwrap_or("")
            ),
        );
    }
    println!();
    Ok(())
}

/// Waits (at most 30 s) for the saga to move the referral to `status`.
async fn wait_for(demo: &Demo, id: &str, token: &str, status: &str) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let referral = demo
            .ok(Method::GET, &format!("/v1/referrals/{id}"), token, None)
            .await?;
        if referral["status"] == status {
            return Ok(referral);
        }
        if Instant::now() > deadline {
            bail!(
                "the referral is still {} after 30 s (wanted {status}); is the broker up? see /readyz",
                referral["status"]
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Prints the notifications that arrived after the first `seen` (newest
/// last), once `expected` of them are there (or after ten seconds).
async fn print_new(
    demo: &Demo,
    who: &str,
    token: &str,
    seen: usize,
    expected: usize,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let inbox = demo
            .ok(Method::GET, "/v1/notifications?limit=100", token, None)
            .await?;
        let items = inbox["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= seen + expected || Instant::now() > deadline {
            for n in items.iter().take(items.len().saturating_sub(seen)).rev() {
                say(
                    who,
                    &format!(
                        "🔔 {} — {}",
                        n["title"].as_str().unwrap_or(""),
                        n["body"].as_str().unwrap_or("")
                    ),
                );
            }
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
