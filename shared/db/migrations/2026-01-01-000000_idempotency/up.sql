-- Idempotency-Key: the first response to a (caller, key), replayed for a
-- retry with the same body; the row commits with the effect or not at all.
CREATE TABLE idempotency_keys (
    caller_id UUID NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status SMALLINT,
    response_body JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (caller_id, key)
);
