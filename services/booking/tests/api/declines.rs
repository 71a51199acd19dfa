//! Clinics and physios can decline (docs/architecture.md, "Fair use"): the
//! referral is booked again elsewhere, never back at a clinic that refused
//! it, and after three refusals it waits on the platform admins' worklist.

use crate::support::{BookingApp, Referral, WAIT, body, problem};
use serde_json::{Value, json};
use spotter_auth::Role;
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancellationReason, AppointmentCancelled, DeclineReason,
    PhysioAccessEnded, ReferralWaitlisted, WaitlistReason,
};
use uuid::Uuid;

/// What the referral service does when a clinic-side cancellation asks for
/// a rebooking: the same referral, one attempt further.
async fn rebook(app: &BookingApp, referral: &mut Referral) {
    referral.attempt += 1;
    app.request(referral).await;
}

fn decline(reason: &str) -> Value {
    json!({"reason": reason})
}

#[tokio::test]
async fn a_declined_referral_is_booked_at_another_clinic_never_back_at_the_one_that_declined() {
    let app = BookingApp::start().await;
    let (first, first_physio) = app.clinic_open_in(1).await;
    let (second, _) = app.clinic_open_in(2).await;
    let mut referral = Referral::knee();
    app.request(&referral).await;
    let booked = app.booked_at(&referral).await;
    assert_eq!(
        booked.clinic_id,
        first.to_string(),
        "the earliest slot first"
    );

    let physio = app.auth.token(Role::Physio, first_physio, Some(first));
    let path = format!("/v1/appointments/{}/decline", booked.appointment_id);
    let declined = body(
        app.post(&path, &physio, &decline("outside_scope")).await,
        200,
    )
    .await;
    assert_eq!(declined["status"], "cancelled");
    let event: AppointmentCancelled = app.tap.next(WAIT).await.unwrap();
    assert_eq!(event.reason_code(), AppointmentCancellationReason::Declined);
    assert_eq!(event.decline_reason(), DeclineReason::OutsideScope);
    assert!(event.rebook);

    // The first clinic still has the earliest free slots, and is passed over.
    rebook(&app, &mut referral).await;
    let again = app.booked_at(&referral).await;
    assert_eq!(again.clinic_id, second.to_string());

    // Its admins see the decline among their clinic's figures.
    let figures = body(
        app.get(&format!("/admin/v1/clinics/{first}/refusals"), &app.admin)
            .await,
        200,
    )
    .await;
    assert_eq!(
        figures["declined"],
        json!([{"reason": "outside_scope", "count": 1}])
    );
    assert_eq!(figures["cancelled"], 0);
}

#[tokio::test]
async fn a_referral_every_clinic_within_reach_refused_waits_for_review_not_forever() {
    let app = BookingApp::start().await;
    let (clinic, _) = app.clinic_open_in(1).await;
    let mut refused = Referral::knee();
    app.request(&refused).await;
    let booked = app.booked_at(&refused).await;
    let admin = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(clinic));
    let path = format!("/v1/appointments/{}/decline", booked.appointment_id);
    body(app.post(&path, &admin, &decline("no_capacity")).await, 200).await;
    rebook(&app, &mut refused).await;
    // The only clinic within reach declined: waiting for capacity there
    // would wait forever, so a platform admin looks at it (after one refusal).
    let held: ReferralWaitlisted = app.tap.next(WAIT).await.unwrap();
    assert_eq!(held.referral_id, refused.id.to_string());
    assert_eq!(held.reason(), WaitlistReason::NeedsReview);
    assert!(held.clinic_ids.is_empty(), "{:?}", held.clinic_ids);
    let list = body(app.get("/admin/v1/worklist", &app.admin).await, 200).await;
    assert_eq!(list["items"][0]["referral_id"], refused.id.to_string());

    // A new clinic opens nearby; released, the referral is booked there.
    let (new_clinic, _) = app.clinic_open_in(3).await;
    let release = format!("/admin/v1/worklist/{}/release", refused.id);
    let released = body(app.post(&release, &app.admin, &json!({})).await, 200).await;
    assert_eq!(released["state"], "booked");
    assert_eq!(
        app.booked_at(&refused).await.clinic_id,
        new_clinic.to_string()
    );
}

#[tokio::test]
async fn time_off_moves_a_referral_without_barring_the_clinic() {
    let app = BookingApp::start().await;
    let (clinic, first) = app.clinic_open_in(1).await;
    let mut referral = Referral::knee();
    app.request(&referral).await;
    let booked = app.booked_at(&referral).await;
    assert_eq!(booked.physio_id, first.to_string());
    let off =
        json!({"start": booked_start(&booked), "end": booked_end(&booked), "reason": "course"});
    body(
        app.post(
            &format!("/admin/v1/physios/{first}/time-off"),
            &app.admin,
            &off,
        )
        .await,
        201,
    )
    .await;
    rebook(&app, &mut referral).await;
    let again = app.booked_at(&referral).await;
    // The clinic is not barred: the physio's next free slot, after the time off.
    assert_eq!(again.clinic_id, clinic.to_string());
    assert_ne!(again.starts_at, booked.starts_at);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM clinic_refusals").await,
        0
    );
}

fn booked_start(booked: &AppointmentBooked) -> String {
    crate::support::timestamp_of(&booked.starts_at).to_rfc3339()
}

fn booked_end(booked: &AppointmentBooked) -> String {
    crate::support::timestamp_of(&booked.ends_at).to_rfc3339()
}

#[tokio::test]
async fn after_three_refusals_the_referral_waits_for_a_platform_admin_who_can_release_it() {
    let app = BookingApp::start().await;
    let (a, a_physio) = app.clinic_open_in(1).await;
    let (b, _) = app.clinic_open_in(2).await;
    let (c, _) = app.clinic_open_in(3).await;
    let (d, _) = app.clinic_open_in(4).await;
    let mut referral = Referral::knee();
    app.request(&referral).await;
    let at_a = app.booked_at(&referral).await;
    assert_eq!(at_a.clinic_id, a.to_string());
    // 1: A's physio declines.
    let physio = app.auth.token(Role::Physio, a_physio, Some(a));
    let path = format!("/v1/appointments/{}/decline", at_a.appointment_id);
    body(app.post(&path, &physio, &decline("no_capacity")).await, 200).await;
    rebook(&app, &mut referral).await;
    let at_b = app.booked_at(&referral).await;
    assert_eq!(at_b.clinic_id, b.to_string());
    // 2: B's admin cancels on the clinic's side (a refusal too).
    let b_admin = app.auth.token(Role::ClinicAdmin, Uuid::now_v7(), Some(b));
    let path = format!("/v1/appointments/{}/cancel", at_b.appointment_id);
    body(
        app.post(&path, &b_admin, &json!({"reason": "closing early"}))
            .await,
        200,
    )
    .await;
    rebook(&app, &mut referral).await;
    let at_c = app.booked_at(&referral).await;
    assert_eq!(at_c.clinic_id, c.to_string());
    // 3: C's admin declines.
    let c_admin = app.auth.token(Role::ClinicAdmin, Uuid::now_v7(), Some(c));
    let path = format!("/v1/appointments/{}/decline", at_c.appointment_id);
    body(
        app.post(&path, &c_admin, &decline("not_suitable_for_clinic"))
            .await,
        200,
    )
    .await;
    rebook(&app, &mut referral).await;
    let held: ReferralWaitlisted = app.tap.next(WAIT).await.unwrap();
    assert_eq!(held.reason(), WaitlistReason::NeedsReview);
    assert_eq!(
        app.count("SELECT count(*) AS n FROM appointments WHERE status = 'booked'")
            .await,
        0,
        "D had room, yet nothing was booked by itself"
    );

    let list = body(app.get("/admin/v1/worklist", &app.admin).await, 200).await;
    let item = &list["items"][0];
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(item["referral_id"], referral.id.to_string());
    let refusals: Vec<(String, String, Value)> = item["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["clinic_id"].as_str().unwrap().to_owned(),
                r["kind"].as_str().unwrap().to_owned(),
                r["decline_reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        refusals,
        [
            (a.to_string(), "declined".to_owned(), json!("no_capacity")),
            (b.to_string(), "cancelled".to_owned(), Value::Null),
            (
                c.to_string(),
                "declined".to_owned(),
                json!("not_suitable_for_clinic")
            ),
        ]
    );
    // Clinic admins have no worklist, nor a release.
    let release = format!("/admin/v1/worklist/{}/release", referral.id);
    problem(app.get("/admin/v1/worklist", &c_admin).await, 403).await;
    problem(app.post(&release, &c_admin, &json!({})).await, 403).await;

    let released = body(app.post(&release, &app.admin, &json!({})).await, 200).await;
    assert_eq!(released["state"], "booked");
    let at_d = app.booked_at(&referral).await;
    assert_eq!(at_d.clinic_id, d.to_string());
    let list = body(app.get("/admin/v1/worklist", &app.admin).await, 200).await;
    assert_eq!(list["items"], json!([]));
    // Released once: a second release finds nothing on the worklist.
    problem(app.post(&release, &app.admin, &json!({})).await, 404).await;
}

#[tokio::test]
async fn only_the_physio_or_their_clinic_may_decline_and_only_with_a_coded_reason() {
    let app = BookingApp::start().await;
    let referral = Referral::knee();
    let booked = app.booked(&referral).await;
    let path = format!("/v1/appointments/{}/decline", booked.event.appointment_id);
    let bad = problem(app.post(&path, &app.admin, &decline("busy")).await, 422).await;
    assert_eq!(bad["errors"][0]["field"], "reason", "{bad}");
    let trainer = app.auth.token(Role::Trainer, referral.trainer, None);
    problem(
        app.post(&path, &trainer, &decline("no_capacity")).await,
        403,
    )
    .await;
    let other_physio = app
        .auth
        .token(Role::Physio, Uuid::now_v7(), Some(booked.clinic));
    problem(
        app.post(&path, &other_physio, &decline("no_capacity"))
            .await,
        404,
    )
    .await;
    let other_clinic = app
        .auth
        .token(Role::ClinicAdmin, Uuid::now_v7(), Some(Uuid::now_v7()));
    problem(
        app.post(&path, &other_clinic, &decline("no_capacity"))
            .await,
        404,
    )
    .await;
    assert_eq!(
        app.count("SELECT count(*) AS n FROM appointments WHERE status = 'booked'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) AS n FROM clinic_refusals").await,
        0
    );
}

#[tokio::test]
async fn deactivating_a_physio_ends_their_access_to_the_referrals_they_saw() {
    let app = BookingApp::start().await;
    let referral = Referral::knee();
    let booked = app.booked(&referral).await;
    // Seen (completed) before the deactivation.
    let physio = app
        .auth
        .token(Role::Physio, booked.physio, Some(booked.clinic));
    let complete = format!("/v1/appointments/{}/complete", booked.event.appointment_id);
    body(app.post(&complete, &physio, &json!({})).await, 200).await;
    body(
        app.patch(
            &format!("/admin/v1/physios/{}", booked.physio),
            &app.admin,
            &json!({"active": false}),
        )
        .await,
        200,
    )
    .await;
    let ended: PhysioAccessEnded = app.tap.next(WAIT).await.unwrap();
    assert_eq!(ended.referral_id, referral.id.to_string());
    assert_eq!(ended.physio_id, booked.physio.to_string());
    assert_eq!(ended.clinic_id, booked.clinic.to_string()); // Their token still verifies, but their appointments are gone for them:
    // read one, list them, act on one.
    let one = format!("/v1/appointments/{}", booked.event.appointment_id);
    problem(app.get(&one, &physio).await, 404).await;
    problem(app.get("/v1/appointments", &physio).await, 404).await;
    problem(app.post(&complete, &physio, &json!({})).await, 404).await;
}
