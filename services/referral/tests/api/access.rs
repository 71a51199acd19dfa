//! Who sees what: the authorization matrix on every endpoint, health detail
//! only for the trainer and the assigned physio, and every access audited.

use crate::support::{ReferralApp, body, guidance, problem};
use reqwest::Method;
use serde_json::json;
use spotter_auth::Role;
use spotter_contracts::booking::v1::{AppointmentNoShow, PhysioAccessEnded};
use uuid::Uuid;

#[tokio::test]
async fn nobody_else_finds_a_trainers_referral() {
    let app = ReferralApp::start().await;
    let owner = app.trainer().await;
    let other_trainer = app.trainer().await;
    let id = app.refer(&owner, &ReferralApp::report(&owner)).await;
    let booked = app.book(id, &owner).await;
    app.wait_for_status(id, &owner.token, "booked").await;
    let unassigned_physio = app
        .auth
        .token(Role::Physio, Uuid::now_v7(), Some(booked.clinic));
    let other_clinic_admin =
        app.auth
            .token(Role::ClinicAdmin, Uuid::now_v7(), Some(Uuid::now_v7()));
    let endpoints = [
        (Method::GET, format!("/v1/referrals/{id}"), None),
        (Method::GET, format!("/v1/referrals/{id}/guidance"), None),
        (
            Method::POST,
            format!("/v1/referrals/{id}/guidance"),
            Some(guidance()),
        ),
        (
            Method::POST,
            format!("/v1/referrals/{id}/cancel"),
            Some(json!({"reason": "trainer_cancelled"})),
        ),
        (
            Method::POST,
            format!("/v1/referrals/{id}/guidance/acknowledge"),
            Some(json!({})),
        ),
    ];
    for (method, path, payload) in &endpoints {
        for (who, token) in [
            ("another trainer", &other_trainer.token),
            ("an unassigned physio", &unassigned_physio),
            ("another clinic's admin", &other_clinic_admin),
        ] {
            let status = app
                .send(method.clone(), path, token, payload.as_ref())
                .await
                .status()
                .as_u16();
            // 404 where the role may use the endpoint at all, 403 where it may not.
            assert!(
                status == 404 || status == 403,
                "{method} {path} by {who}: {status}"
            );
            if status == 403 {
                // Only trainer- or physio-only actions may answer 403 by role.
                let role_restricted = path.ends_with("/cancel")
                    || path.ends_with("/acknowledge")
                    || (path.ends_with("/guidance") && *method == Method::POST);
                assert!(
                    role_restricted,
                    "{method} {path} by {who}: 403 where 404 was due"
                );
            }
        }
    }
    for token in [&other_trainer.token, &unassigned_physio] {
        let list = body(app.get("/v1/referrals", token).await, 200).await;
        assert_eq!(list["items"], json!([]));
    }
    problem(
        app.get(
            &format!("/admin/v1/clinics/{}/referrals", booked.clinic),
            &other_clinic_admin,
        )
        .await,
        404,
    )
    .await;
    assert_eq!(
        app.referral(id, &owner.token).await["status"],
        "booked",
        "nothing changed"
    );
}

#[tokio::test]
async fn health_detail_is_for_the_trainer_and_the_assigned_physio_only() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.booked(&trainer).await;
    let clinic_admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(booked.clinic));

    let seen_by_trainer = app.referral(id, &trainer.token).await;
    assert_eq!(seen_by_trainer["injury"]["pain_level"], 5);
    assert_eq!(seen_by_trainer["client"]["display_name"], "Jo Client");
    let seen_by_physio = app.referral(id, &physio).await;
    assert!(
        seen_by_physio["injury"]["description"]
            .as_str()
            .unwrap()
            .contains("knee")
    );
    let seen_by_admin = app.referral(id, &clinic_admin).await;
    assert_eq!(seen_by_admin["status"], "booked");
    assert!(seen_by_admin["injury"].is_null() && seen_by_admin["client"].is_null());
    let mine = body(app.get("/v1/referrals", &physio).await, 200).await;
    assert_eq!(mine["items"][0]["id"], id.to_string());

    // Every read and write of injury data, and only those, is in the log.
    let log = body(
        app.get(&format!("/admin/v1/audit-log?referral_id={id}"), &app.admin)
            .await,
        200,
    )
    .await;
    let entries: Vec<(String, String)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["actor_role"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // The report's write first; then reads by the two who saw the injury
    // (the trainer's count depends on how often the test polled), each view
    // reading the injury and the outcome measures; none by the clinic admin,
    // who was shown no health detail.
    assert_eq!(
        entries[0],
        ("trainer".to_owned(), "injury_report.write".to_owned())
    );
    let reads = |what: &str| entries.iter().filter(|(_, action)| action == what).count();
    assert_eq!(reads("injury_report.read"), reads("outcome_measure.read"));
    assert_eq!(reads("injury_report.read") * 2, entries.len() - 1);
    assert!(entries.iter().any(|(role, _)| role == "physio"));
    assert!(
        entries
            .iter()
            .all(|(role, _)| role == "trainer" || role == "physio")
    );
    problem(app.get("/admin/v1/audit-log", &clinic_admin).await, 403).await;
    // Ids start at 1, as the schema says: `before=0` is refused, not an
    // empty page.
    let zero = problem(
        app.get("/admin/v1/audit-log?before=0", &app.admin).await,
        422,
    )
    .await;
    assert_eq!(zero["errors"][0]["field"], "before");
}

#[tokio::test]
async fn a_clinic_sees_how_fast_its_referrals_are_served() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.assessed(&trainer).await;
    body(
        app.post(
            &format!("/v1/referrals/{id}/guidance"),
            &physio,
            &guidance(),
        )
        .await,
        201,
    )
    .await;
    let view = app.clinic_referrals(booked.clinic).await;
    assert_eq!(view["items"][0]["id"], id.to_string());
    assert!(view["items"][0]["time_to_book_seconds"].as_i64().unwrap() >= 0);
    assert!(
        view["items"][0]["time_to_guidance_seconds"]
            .as_i64()
            .unwrap()
            >= 0
    );
    assert!(view["summary"]["time_to_book_median_seconds"].is_number());
    assert!(view["summary"]["time_to_guidance_p90_seconds"].is_number());
    assert!(
        view["items"][0].get("injury").is_none(),
        "no health detail for admins"
    );
}

#[tokio::test]
async fn the_apps_list_filters_by_status_and_syncs_by_change_time() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let first = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
    let second = app
        .refer(&trainer, &ReferralApp::report_on(&trainer, "shoulder"))
        .await;
    let before_booking = chrono::Utc::now();
    app.book(first, &trainer).await;
    app.wait_for_status(first, &trainer.token, "booked").await;

    let booked = body(
        app.get("/v1/referrals?status=booked", &trainer.token).await,
        200,
    )
    .await;
    let ids: Vec<&str> = booked["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.to_string()]);
    let since = before_booking.to_rfc3339().replace('+', "%2B");
    let changed = body(
        app.get(
            &format!("/v1/referrals?updated_since={since}"),
            &trainer.token,
        )
        .await,
        200,
    )
    .await;
    let ids: Vec<&str> = changed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.to_string()], "only what changed since");
    let page = body(app.get("/v1/referrals?limit=1", &trainer.token).await, 200).await;
    assert_eq!(page["items"][0]["id"], second.to_string(), "newest first");
    let next = page["next_cursor"].as_str().unwrap();
    let page = body(
        app.get(
            &format!("/v1/referrals?limit=1&cursor={next}"),
            &trainer.token,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(page["items"][0]["id"], first.to_string());
    let bad = problem(
        app.get("/v1/referrals?status=lost", &trainer.token).await,
        422,
    )
    .await;
    assert_eq!(bad["errors"][0]["field"], "status");
}

#[tokio::test]
async fn a_physio_who_moved_clinic_or_whose_client_withdrew_consent_sees_nothing() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.booked(&trainer).await;
    let moved = app
        .auth
        .token(Role::Physio, booked.physio, Some(Uuid::now_v7()));
    let path = format!("/v1/referrals/{id}");
    let guidance_path = format!("/v1/referrals/{id}/guidance");
    body(app.get(&path, &physio).await, 200).await;

    // The same physio, now at another clinic: as if it never existed.
    problem(app.get(&path, &moved).await, 404).await;
    problem(app.post(&guidance_path, &moved, &guidance()).await, 404).await;
    let listed = body(app.get("/v1/referrals", &moved).await, 200).await;
    assert_eq!(listed["items"], json!([]));

    // The client withdraws consent: the treating physio's access ends at once.
    body(
        app.post(
            &format!("{path}/cancel"),
            &trainer.token,
            &json!({"reason": "consent_withdrawn"}),
        )
        .await,
        200,
    )
    .await;
    problem(app.get(&path, &physio).await, 404).await;
    problem(app.post(&guidance_path, &physio, &guidance()).await, 404).await;
    // The trainer still sees the referral, closed.
    let closed = body(app.get(&path, &trainer.token).await, 200).await;
    assert_eq!(closed["status"], "cancelled");
}

#[tokio::test]
async fn a_deactivated_physio_sees_nothing_and_every_refusal_is_audited() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.assessed(&trainer).await;
    let path = format!("/v1/referrals/{id}");
    let guidance_path = format!("/v1/referrals/{id}/guidance");
    body(app.get(&path, &physio).await, 200).await;

    // Their clinic deactivates them; their token is still valid.
    app.publish(&PhysioAccessEnded {
        referral_id: id.to_string(),
        physio_id: booked.physio.to_string(),
        clinic_id: booked.clinic.to_string(),
        ended_at: None,
    })
    .await;
    // Handled once the consumer has recorded it.
    app.wait_for_count(
        "SELECT count(*) AS n FROM inbox WHERE message_type = 'spotter.booking.v1.PhysioAccessEnded'",
        1,
    )
    .await;
    problem(app.get(&path, &physio).await, 404).await;
    problem(app.get(&guidance_path, &physio).await, 404).await;
    problem(app.post(&guidance_path, &physio, &guidance()).await, 404).await;
    let listed = body(app.get("/v1/referrals", &physio).await, 200).await;
    assert_eq!(listed["items"], json!([]));
    assert_eq!(app.count("SELECT count(*) AS n FROM guidance").await, 0);
    // The trainer is unaffected.
    body(app.get(&path, &trainer.token).await, 200).await;

    // Each refusal is in the audit log, under the physio's name; another
    // trainer probing the id is too, and an id that exists nowhere is not.
    let stranger = app.trainer().await;
    problem(app.get(&path, &stranger.token).await, 404).await;
    let nowhere = Uuid::now_v7();
    problem(
        app.get(&format!("/v1/referrals/{nowhere}"), &physio).await,
        404,
    )
    .await;
    let audit = body(
        app.get(
            &format!("/admin/v1/audit-log?referral_id={id}&limit=100"),
            &app.admin,
        )
        .await,
        200,
    )
    .await;
    let refusals: Vec<(String, String)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "referral.access_refused")
        .map(|e| {
            (
                e["actor_id"].as_str().unwrap().to_owned(),
                e["actor_role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let by_physio = refusals
        .iter()
        .filter(|(actor, role)| *actor == booked.physio.to_string() && role == "physio")
        .count();
    // The read that first saw the 404, the guidance read and the guidance
    // write (a list shows nothing, which refuses nothing).
    assert_eq!(by_physio, 3, "{refusals:?}");
    assert!(
        refusals.contains(&(stranger.id.to_string(), "trainer".to_owned())),
        "{refusals:?}"
    );
    let for_nowhere =
        format!("SELECT count(*) AS n FROM audit_log WHERE referral_id = '{nowhere}'");
    assert_eq!(app.count(&for_nowhere).await, 0);
}

#[tokio::test]
async fn a_no_show_closes_the_referral_to_its_physio() {
    let app = ReferralApp::start().await;
    let trainer = app.trainer().await;
    let (id, booked, physio) = app.booked(&trainer).await;
    let path = format!("/v1/referrals/{id}");
    body(app.get(&path, &physio).await, 200).await;
    app.publish(&AppointmentNoShow {
        appointment_id: booked.appointment.to_string(),
        referral_id: id.to_string(),
        ..Default::default()
    })
    .await;
    app.wait_for_status(id, &trainer.token, "no_show").await;
    problem(app.get(&path, &physio).await, 404).await;
    problem(app.get(&format!("{path}/guidance"), &physio).await, 404).await;
    let listed = body(app.get("/v1/referrals", &physio).await, 200).await;
    assert_eq!(listed["items"], json!([]));
}

/// The clinic's list says what share of the referrals it booked were seen
/// within their target time, over the last 90 days.
#[tokio::test]
async fn the_clinic_sees_the_share_booked_within_target() {
    use crate::support::{Booked, booked_event};
    let app = ReferralApp::start().await;
    let clinic = Uuid::now_v7();
    let physio = Uuid::now_v7();
    let mut ids = Vec::new();
    for missed in [false, false, true, true] {
        let trainer = app.trainer().await;
        let id = app.refer(&trainer, &ReferralApp::report(&trainer)).await;
        ids.push(id);
        let booked = Booked {
            appointment: Uuid::now_v7(),
            physio,
            clinic,
        };
        // The third could only be given a time past its target.
        let mut event = booked_event(id, &trainer, &booked);
        event.target_missed = missed;
        app.publish(&event).await;
        app.wait_for_status(id, &trainer.token, "booked").await;
    }
    // The last one was flagged long ago: it is past the summary's window.
    app.execute(&format!(
        "UPDATE referrals SET created_at = now() - interval '91 days' WHERE id = '{}'",
        ids[3]
    ))
    .await
    .unwrap();
    let view = app.clinic_referrals(clinic).await;
    let share = view["summary"]["booked_within_target_share"]
        .as_f64()
        .unwrap();
    assert!((share - 2.0 / 3.0).abs() < 1e-9, "{share}");
    // Before any booking there is no share to give.
    let elsewhere = app.clinic_referrals(Uuid::now_v7()).await;
    assert!(elsewhere["summary"]["booked_within_target_share"].is_null());
}
