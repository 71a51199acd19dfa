-- Parked messages, recorded from each consumer's parking queue so operators can
-- list and replay them through the admin API.
CREATE TABLE dead_letters (
    id UUID PRIMARY KEY,
    -- One row per parking, however often the parked message is redelivered.
    parking_key TEXT NOT NULL UNIQUE,
    -- The consumer's work queue: where a replay sends the message.
    queue TEXT NOT NULL,
    message_id UUID,
    message_type TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    correlation_id TEXT,
    payload BYTEA NOT NULL,
    traceparent TEXT,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    parked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at TIMESTAMPTZ
);

CREATE INDEX dead_letters_newest ON dead_letters (id DESC);
