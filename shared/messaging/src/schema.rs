// Tables this crate owns in every service's database (see `migrations/`).

diesel::table! {
    outbox (seq) {
        seq -> Int8,
        message_id -> Uuid,
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
