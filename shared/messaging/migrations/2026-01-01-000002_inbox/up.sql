-- Idempotent consumers: a message id is recorded in the same transaction as
-- its effect, so a redelivery finds it and is acknowledged without effect.
CREATE TABLE inbox (
    message_id UUID NOT NULL,
    consumer TEXT NOT NULL,
    message_type TEXT NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);
