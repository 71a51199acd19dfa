// The booking service's tables (kept in step with `migrations/`).

diesel::table! {
    clinics (id) {
        id -> Uuid,
        name -> Text,
        timezone -> Text,
        lat -> Float8,
        lon -> Float8,
        service_radius_km -> Float8,
        accepts_referrals -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        assessment_minutes -> Int4,
        follow_up_minutes -> Int4,
        buffer_minutes -> Int4,
        min_notice_minutes -> Int4,
        horizon_days -> Int4,
        // service_box (cube, generated from lat, lon and the radius) is read
        // only through SQL fragments (`engine::facts::AREA_COVERS`).
    }
}

diesel::table! {
    physios (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        display_name -> Text,
        specialties -> Array<Text>,
        active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    weekly_hours (physio_id, weekday, start_time) {
        physio_id -> Uuid,
        weekday -> Int2,
        start_time -> Time,
        end_time -> Time,
    }
}

diesel::table! {
    time_off (id) {
        id -> Uuid,
        physio_id -> Uuid,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        reason -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    referral_requests (referral_id) {
        referral_id -> Uuid,
        trainer_id -> Uuid,
        client_id -> Uuid,
        body_region -> Text,
        priority -> Text,
        lat -> Float8,
        lon -> Float8,
        requested_at -> Timestamptz,
        attempt -> Int4,
        state -> Text,
        waitlisted_at -> Nullable<Timestamptz>,
        updated_at -> Timestamptz,
        target_by -> Nullable<Timestamptz>,
        refusals_reviewed -> Int4,
        only_clinic_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    clinic_refusals (appointment_id) {
        appointment_id -> Uuid,
        referral_id -> Uuid,
        clinic_id -> Uuid,
        decline_reason -> Nullable<Text>,
        at -> Timestamptz,
    }
}

diesel::table! {
    referral_cancellations (referral_id) {
        referral_id -> Uuid,
        cancelled_at -> Timestamptz,
    }
}

diesel::table! {
    appointments (id) {
        id -> Uuid,
        referral_id -> Uuid,
        trainer_id -> Uuid,
        client_id -> Uuid,
        physio_id -> Uuid,
        clinic_id -> Uuid,
        priority -> Text,
        starts_at -> Timestamptz,
        ends_at -> Timestamptz,
        status -> Text,
        target_missed -> Bool,
        cancelled_by -> Nullable<Text>,
        cancel_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        blocked_until -> Timestamptz,
        kind -> Text,
    }
}

diesel::table! {
    follow_up_requests (referral_id) {
        referral_id -> Uuid,
        physio_id -> Uuid,
        clinic_id -> Uuid,
        review_on -> Nullable<Date>,
        guidance_version -> Int4,
        bookable_from -> Nullable<Date>,
        state -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(physios -> clinics (clinic_id));
diesel::joinable!(appointments -> physios (physio_id));
diesel::allow_tables_to_appear_in_same_query!(
    clinics,
    physios,
    weekly_hours,
    time_off,
    referral_requests,
    referral_cancellations,
    appointments,
    follow_up_requests
);

diesel::table! {
    capacity_changes (clinic_id) {
        clinic_id -> Uuid,
        changed_at -> Timestamptz,
    }
}
