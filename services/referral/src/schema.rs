// The referral service's tables (kept in step with `migrations/`).

diesel::table! {
    trainers (id) {
        id -> Uuid,
        display_name -> Text,
        lat -> Float8,
        lon -> Float8,
        certifications -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    clients (id) {
        id -> Uuid,
        trainer_id -> Uuid,
        display_name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    referrals (id) {
        id -> Uuid,
        trainer_id -> Uuid,
        client_id -> Uuid,
        status -> Text,
        priority -> Text,
        attempt -> Int4,
        target_by -> Nullable<Timestamptz>,
        appointment_id -> Nullable<Uuid>,
        appointment_starts_at -> Nullable<Timestamptz>,
        appointment_ends_at -> Nullable<Timestamptz>,
        physio_id -> Nullable<Uuid>,
        clinic_id -> Nullable<Uuid>,
        target_missed -> Nullable<Bool>,
        first_booked_at -> Nullable<Timestamptz>,
        first_guidance_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        physio_access_ended_for -> Nullable<Uuid>,
        overdue_since -> Nullable<Timestamptz>,
        no_shows -> Int4,
        discharged_at -> Nullable<Timestamptz>,
        previous_referral_id -> Nullable<Uuid>,
        clinic_timezone -> Nullable<Text>,
        booking_requested_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    visits (appointment_id) {
        appointment_id -> Uuid,
        referral_id -> Uuid,
        kind -> Text,
        status -> Text,
        starts_at -> Nullable<Timestamptz>,
        ends_at -> Nullable<Timestamptz>,
        physio_id -> Uuid,
        clinic_id -> Uuid,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    injury_reports (referral_id) {
        referral_id -> Uuid,
        body_region -> Text,
        side -> Text,
        pain_level -> Int2,
        onset_date -> Date,
        mechanism -> Text,
        description -> Text,
        red_flags -> Array<Text>,
        consent_method -> Text,
        consent_recorded_at -> Timestamptz,
        psfs -> Jsonb,
    }
}

diesel::table! {
    referral_timeline (id) {
        id -> Int8,
        referral_id -> Uuid,
        status -> Text,
        cause -> Text,
        guidance_version -> Nullable<Int4>,
        at -> Timestamptz,
    }
}

diesel::table! {
    guidance (id) {
        id -> Uuid,
        referral_id -> Uuid,
        version -> Int4,
        physio_id -> Uuid,
        clearance -> Text,
        avoid -> Jsonb,
        exercises -> Jsonb,
        load_limits -> Jsonb,
        review_on -> Nullable<Date>,
        notes_for_trainer -> Text,
        created_at -> Timestamptz,
        acknowledged_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_id -> Uuid,
        actor_role -> Text,
        action -> Text,
        referral_id -> Uuid,
    }
}

diesel::table! {
    screenings (referral_id) {
        referral_id -> Uuid,
        questionnaire_version -> Int4,
        source -> Text,
        response -> Jsonb,
        disposition -> Text,
        rules -> Array<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    medical_clearances (referral_id) {
        referral_id -> Uuid,
        cleared_on -> Date,
        cleared_by -> Text,
        urgency -> Text,
        recorded_at -> Timestamptz,
    }
}

diesel::joinable!(injury_reports -> referrals (referral_id));
diesel::joinable!(screenings -> referrals (referral_id));
diesel::allow_tables_to_appear_in_same_query!(
    trainers,
    clients,
    referrals,
    injury_reports,
    screenings,
    medical_clearances,
    referral_timeline,
    guidance,
    audit_log
);

diesel::table! {
    training_sessions (id) {
        id -> Uuid,
        referral_id -> Uuid,
        performed_at -> Timestamptz,
        exercises -> Jsonb,
        session_rpe -> Int2,
        pain_during -> Int2,
        pain_after -> Nullable<Int2>,
        guidance_version -> Int4,
        flare_signs -> Array<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    outcome_measures (id) {
        id -> Uuid,
        referral_id -> Uuid,
        occasion -> Text,
        recorded_by -> Uuid,
        nprs -> Int2,
        psfs -> Jsonb,
        recorded_at -> Timestamptz,
    }
}
