// Tables this crate owns in every service's database (see `migrations/`).

diesel::table! {
    outbox (seq) {
        seq -> Int8,
        message_id -> Uuid,
        exchange -> Nullable<Text>,
        routing_key -> Text,
        message_type -> Text,
        correlation_id -> Text,
        payload -> Bytea,
        traceparent -> Nullable<Text>,
        created_at -> Timestamptz,
        published_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    inbox (consumer, message_id) {
        message_id -> Uuid,
        consumer -> Text,
        message_type -> Text,
        processed_at -> Timestamptz,
    }
}

diesel::table! {
    dead_letters (id) {
        id -> Uuid,
        parking_key -> Text,
        queue -> Text,
        message_id -> Nullable<Uuid>,
        message_type -> Text,
        routing_key -> Text,
        correlation_id -> Nullable<Text>,
        payload -> Bytea,
        traceparent -> Nullable<Text>,
        reason -> Text,
        attempts -> Int4,
        parked_at -> Timestamptz,
        replayed_at -> Nullable<Timestamptz>,
    }
}
