-- Reminders before each booked appointment, kept here so they survive
-- restarts; a worker in any replica sends each one once (SKIP LOCKED).
CREATE TABLE reminders (
    id UUID PRIMARY KEY,
    appointment_id UUID NOT NULL,
    referral_id UUID NOT NULL,
    recipient_id UUID NOT NULL,
    -- How long before the start: '24h' or '2h'.
    lead TEXT NOT NULL CHECK (lead IN ('24h', '2h')),
    starts_at TIMESTAMPTZ NOT NULL,
    due_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ,
    cancelled_at TIMESTAMPTZ,
    UNIQUE (appointment_id, recipient_id, lead)
);
CREATE INDEX reminders_due ON reminders (due_at) WHERE sent_at IS NULL AND cancelled_at IS NULL;

-- Wake the workers: a new or moved reminder may be due sooner than they planned.
CREATE FUNCTION reminders_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('spotter_reminders', '');
    RETURN NULL;
END $$;
CREATE TRIGGER reminders_notify AFTER INSERT OR UPDATE ON reminders
    FOR EACH STATEMENT EXECUTE FUNCTION reminders_notify();
