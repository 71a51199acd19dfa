// The notification service's tables (kept in step with `migrations/`).

diesel::table! {
    notifications (id) {
        id -> Uuid,
        recipient_id -> Nullable<Uuid>,
        kind -> Text,
        title -> Text,
        body -> Text,
        data -> Jsonb,
        created_at -> Timestamptz,
        read_at -> Nullable<Timestamptz>,
        clinic_id -> Nullable<Uuid>,
        updated_at -> Timestamptz,
        seq -> Int8,
    }
}

diesel::table! {
    devices (id) {
        id -> Uuid,
        user_id -> Uuid,
        platform -> Text,
        token -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    notification_preferences (user_id, kind) {
        user_id -> Uuid,
        kind -> Text,
        push -> Bool,
    }
}

diesel::table! {
    reminders (id) {
        id -> Uuid,
        appointment_id -> Uuid,
        referral_id -> Uuid,
        recipient_id -> Uuid,
        lead -> Text,
        starts_at -> Timestamptz,
        due_at -> Timestamptz,
        sent_at -> Nullable<Timestamptz>,
        cancelled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    push_deliveries (id) {
        id -> Uuid,
        notification_id -> Uuid,
        device_id -> Uuid,
        provider -> Text,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    push_attempts (delivery_id, attempt) {
        delivery_id -> Uuid,
        attempt -> Int4,
        device_id -> Uuid,
        provider -> Text,
        outcome -> Text,
        http_status -> Nullable<Int4>,
        reason -> Nullable<Text>,
        attempted_at -> Timestamptz,
        retry_at -> Nullable<Timestamptz>,
    }
}
