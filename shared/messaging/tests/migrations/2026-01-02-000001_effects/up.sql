-- A stand-in for a service's state change: one row per handled message.
CREATE TABLE effects (
    id BIGSERIAL PRIMARY KEY,
    message_id UUID NOT NULL,
    payload BYTEA NOT NULL,
    -- The delivery attempt that succeeded (retries count up from 1).
    attempt INTEGER NOT NULL,
    -- When the effect was written (not the transaction start), for latency.
    recorded_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    -- The transaction that wrote it: deliveries handled together share one.
    txid BIGINT NOT NULL DEFAULT txid_current()
);
