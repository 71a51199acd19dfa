-- Transactional outbox: an event row commits together with the state change
-- that caused it; the relay publishes it afterwards (docs/architecture.md,
-- "Messaging").
CREATE TABLE outbox (
    -- Enqueue order; the relay publishes each correlation's events in this order.
    seq BIGSERIAL PRIMARY KEY,
    -- Not unique: a replayed dead letter goes out again under its original id,
    -- so that consumers which did handle it skip it.
    message_id UUID NOT NULL,
    -- NULL: the events exchange. '' (the default exchange): straight to the
    -- queue named by routing_key, which is how a replay reaches one consumer.
    exchange TEXT,
    routing_key TEXT NOT NULL,
    message_type TEXT NOT NULL,
    -- The referral id: ordering key and AMQP correlation_id.
    correlation_id TEXT NOT NULL,
    payload BYTEA NOT NULL,
    traceparent TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ
);

-- The relay's work list: unpublished rows, by correlation then order.
CREATE INDEX outbox_pending ON outbox (correlation_id, seq) WHERE published_at IS NULL;
CREATE INDEX outbox_pending_seq ON outbox (seq) WHERE published_at IS NULL;

-- Wake the relay when a transaction that enqueued commits (NOTIFY is
-- delivered at commit, never for a rollback).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('spotter_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
