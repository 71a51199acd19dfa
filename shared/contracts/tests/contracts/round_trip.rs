//! One of each event survives encode → decode unchanged, through the same
//! `Event` bound the outbox and consumers use.

// Helpers outside #[test] fns panic on purpose too: a panic is a failed test.
use prost::Message;
use prost_types::Timestamp;
use spotter_contracts::Event;
use spotter_contracts::booking::v1::{
    AppointmentBooked, AppointmentCancellationReason, AppointmentCancelled, AppointmentCompleted,
    AppointmentNoShow, AppointmentRescheduled, FollowUpBooked, ReferralWaitlisted, WaitlistReason,
};
use spotter_contracts::common::v1::{AppointmentKind, BodyRegion, CancelledBy, Location, Priority};
use spotter_contracts::referral::v1::{
    Clearance, EmergencyAdvised, GuidanceAcknowledged, GuidanceShared, ReferralCancellationReason,
    ReferralCancelled, ReferralRequested,
};

const REFERRAL: &str = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
const TRAINER: &str = "0190a1b2-c3d4-7e5f-8a9b-000000000001";
const CLIENT: &str = "0190a1b2-c3d4-7e5f-8a9b-000000000002";
const PHYSIO: &str = "0190a1b2-c3d4-7e5f-8a9b-000000000003";
const CLINIC: &str = "0190a1b2-c3d4-7e5f-8a9b-000000000004";
const APPOINTMENT: &str = "0190a1b2-c3d4-7e5f-8a9b-000000000005";
const GUIDANCE: &str = "0190a1b2-c3d4-7e5f-8a9b-000000000006";

fn at(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: 1_750_000_000 + seconds,
        nanos: 123_000_000,
    })
}

fn round_trip<E: Event + PartialEq + std::fmt::Debug>(event: E) {
    let bytes = event.encode_to_vec();
    let decoded = E::decode(bytes.as_slice()).expect("decodes");
    assert_eq!(decoded, event, "{}", E::TYPE_NAME);
    assert_eq!(decoded.referral_id(), REFERRAL, "{}", E::TYPE_NAME);
}

#[test]
fn referral_events_round_trip() {
    let mut requested = ReferralRequested {
        referral_id: REFERRAL.into(),
        trainer_id: TRAINER.into(),
        client_id: CLIENT.into(),
        trainer_location: Some(Location {
            lat: 52.370_216,
            lon: 4.895_168,
        }),
        requested_at: at(0),
        target_by: at(48 * 3600),
        attempt: 2,
        ..Default::default()
    };
    requested.set_priority(Priority::Urgent);
    requested.set_body_region(BodyRegion::AnkleFoot);
    round_trip(requested);

    let mut cancelled = ReferralCancelled {
        referral_id: REFERRAL.into(),
        trainer_id: TRAINER.into(),
        cancelled_at: at(60),
        ..Default::default()
    };
    cancelled.set_reason_code(ReferralCancellationReason::ConsentWithdrawn);
    round_trip(cancelled);

    round_trip(EmergencyAdvised {
        referral_id: REFERRAL.into(),
        trainer_id: TRAINER.into(),
        client_id: CLIENT.into(),
        advised_at: at(0),
    });

    let mut shared = GuidanceShared {
        referral_id: REFERRAL.into(),
        guidance_id: GUIDANCE.into(),
        version: 3,
        trainer_id: TRAINER.into(),
        physio_id: PHYSIO.into(),
        review_on: "2025-07-01".into(),
        shared_at: at(7200),
        ..Default::default()
    };
    shared.set_clearance(Clearance::ModifiedTraining);
    round_trip(shared);

    round_trip(GuidanceAcknowledged {
        referral_id: REFERRAL.into(),
        guidance_id: GUIDANCE.into(),
        version: 3,
        trainer_id: TRAINER.into(),
        physio_id: PHYSIO.into(),
        acknowledged_at: at(9000),
    });
}

#[test]
fn booking_events_round_trip() {
    let mut waitlisted = ReferralWaitlisted {
        referral_id: REFERRAL.into(),
        trainer_id: TRAINER.into(),
        waitlisted_at: at(1),
        ..Default::default()
    };
    waitlisted.set_priority(Priority::Routine);
    waitlisted.set_reason(WaitlistReason::NoFreeSlotInHorizon);
    round_trip(waitlisted);

    let mut booked = AppointmentBooked {
        appointment_id: APPOINTMENT.into(),
        referral_id: REFERRAL.into(),
        trainer_id: TRAINER.into(),
        client_id: CLIENT.into(),
        physio_id: PHYSIO.into(),
        clinic_id: CLINIC.into(),
        starts_at: at(3600),
        ends_at: at(3600 + 45 * 60),
        target_missed: true,
        booked_at: at(2),
        ..Default::default()
    };
    booked.set_priority(Priority::Urgent);
    round_trip(booked);

    let mut cancelled = AppointmentCancelled {
        appointment_id: APPOINTMENT.into(),
        referral_id: REFERRAL.into(),
        trainer_id: TRAINER.into(),
        physio_id: PHYSIO.into(),
        clinic_id: CLINIC.into(),
        cancelled_at: at(100),
        rebook: true,
        ..Default::default()
    };
    cancelled.set_cancelled_by(CancelledBy::ClinicAdmin);
    cancelled.set_reason_code(AppointmentCancellationReason::PhysioUnavailable);
    round_trip(cancelled);

    round_trip(AppointmentRescheduled {
        appointment_id: APPOINTMENT.into(),
        referral_id: REFERRAL.into(),
        trainer_id: TRAINER.into(),
        physio_id: PHYSIO.into(),
        clinic_id: CLINIC.into(),
        previous_starts_at: at(3600),
        starts_at: at(7200),
        ends_at: at(7200 + 45 * 60),
        rescheduled_at: at(200),
    });

    let mut completed = AppointmentCompleted {
        appointment_id: APPOINTMENT.into(),
        referral_id: REFERRAL.into(),
        trainer_id: TRAINER.into(),
        physio_id: PHYSIO.into(),
        clinic_id: CLINIC.into(),
        completed_at: at(9000),
        ..Default::default()
    };
    completed.set_kind(AppointmentKind::FollowUp);
    round_trip(completed);

    round_trip(AppointmentNoShow {
        appointment_id: APPOINTMENT.into(),
        referral_id: REFERRAL.into(),
        trainer_id: TRAINER.into(),
        physio_id: PHYSIO.into(),
        clinic_id: CLINIC.into(),
        recorded_at: at(9000),
        no_shows: 2,
        ..Default::default()
    });

    round_trip(FollowUpBooked {
        appointment_id: APPOINTMENT.into(),
        referral_id: REFERRAL.into(),
        trainer_id: TRAINER.into(),
        client_id: CLIENT.into(),
        physio_id: PHYSIO.into(),
        clinic_id: CLINIC.into(),
        starts_at: at(86_400),
        ends_at: at(86_400 + 30 * 60),
        review_on: "2030-01-02".into(),
        guidance_version: 2,
        replaces_appointment_id: String::new(),
        booked_at: at(10),
    });
}

// Consumers must keep working when a producer sends a value they do not know
// yet (a newer enum value): prost keeps it as a number instead of failing.
#[test]
fn unknown_enum_values_survive_decoding() {
    let event = ReferralWaitlisted {
        referral_id: REFERRAL.into(),
        reason: 99,
        ..Default::default()
    };
    let decoded = ReferralWaitlisted::decode(event.encode_to_vec().as_slice()).expect("decodes");
    assert_eq!(decoded.reason, 99);
    assert_eq!(decoded.reason(), WaitlistReason::Unspecified);
}
