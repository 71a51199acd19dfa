-- The live stream's and the reminder workers' wake-ups through the shared
-- spotter_notify() function.
DROP TRIGGER notifications_notify ON notifications;
DROP FUNCTION notifications_notify();
CREATE TRIGGER notifications_notify AFTER INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION spotter_notify('spotter_notifications');
DROP TRIGGER reminders_notify ON reminders;
DROP FUNCTION reminders_notify();
-- On insert only: a moved reminder is deleted and inserted again, and the
-- workers' own updates (sent, cancelled) must not wake them. A statement
-- trigger fires even when no row changed, so waking on UPDATE made every
-- round of every worker wake every worker again, forever.
CREATE TRIGGER reminders_notify AFTER INSERT ON reminders
    FOR EACH STATEMENT EXECUTE FUNCTION spotter_notify('spotter_reminders');

-- Push to phones: one row per notification and device, written in the
-- notification's own transaction. It is the push worker's queue (any replica
-- takes a due row, SKIP LOCKED) and what became of the push.
CREATE TABLE push_deliveries (
    id UUID PRIMARY KEY,
    notification_id UUID NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    -- No foreign key: the record outlives a device the provider retired.
    device_id UUID NOT NULL,
    provider TEXT NOT NULL CHECK (provider IN ('fcm', 'apns')),
    -- pending → delivered | failed (gave up or refused) | dropped (device gone)
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'delivered', 'failed', 'dropped')),
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX push_deliveries_due ON push_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX push_deliveries_by_device ON push_deliveries (device_id) WHERE status = 'pending';

-- Every call to a provider and what it answered: the on-call engineer's
-- record of why a phone did or did not buzz. Never the token or the payload.
CREATE TABLE push_attempts (
    delivery_id UUID NOT NULL REFERENCES push_deliveries (id) ON DELETE CASCADE,
    attempt INT NOT NULL,
    device_id UUID NOT NULL,
    provider TEXT NOT NULL,
    -- delivered | retry | device_gone | refused
    outcome TEXT NOT NULL,
    http_status INT,
    -- The provider's reason code (UNREGISTERED, BadDeviceToken, …).
    reason TEXT,
    attempted_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    retry_at TIMESTAMPTZ,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TRIGGER push_deliveries_notify AFTER INSERT ON push_deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION spotter_notify('spotter_push');
