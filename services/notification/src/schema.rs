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

diesel::table! {
    webhook_endpoints (id) {
        id -> Uuid,
        clinic_id -> Uuid,
        url -> Text,
        description -> Text,
        event_types -> Array<Text>,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamptz>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_messages (id) {
        id -> Uuid,
        endpoint_id -> Uuid,
        event_type -> Text,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    webhook_attempts (message_id, attempt) {
        message_id -> Uuid,
        attempt -> Int4,
        endpoint_id -> Uuid,
        attempted_at -> Timestamptz,
        http_status -> Nullable<Int4>,
        latency_ms -> Int4,
        outcome -> Text,
        error -> Nullable<Text>,
        retry_at -> Nullable<Timestamptz>,
    }
}
