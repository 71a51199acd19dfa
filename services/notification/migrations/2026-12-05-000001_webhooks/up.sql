-- Webhooks to clinics' own systems (docs/webhooks.md): each clinic's
-- endpoints, the messages owed to each endpoint (one per event and
-- endpoint; its id is the webhook-id of every attempt), and every attempt.

CREATE TABLE webhook_endpoints (
    id uuid PRIMARY KEY,
    clinic_id uuid NOT NULL,
    url text NOT NULL CHECK (length(url) <= 2000),
    description text NOT NULL DEFAULT '' CHECK (length(description) <= 300),
    event_types text[] NOT NULL,
    -- Signing keys, `whsec_…`: kept to sign with, so kept as given. The
    -- previous one still signs until previous_secret_until (rotation).
    secret text NOT NULL,
    previous_secret text,
    previous_secret_until timestamptz,
    enabled boolean NOT NULL DEFAULT true,
    -- Why it was turned off: by an admin, or after a day of failures.
    disabled_reason text CHECK (disabled_reason IN ('by_admin', 'failing')),
    -- The first failed attempt since the last success.
    failing_since timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_by_clinic ON webhook_endpoints (clinic_id, id);

CREATE TABLE webhook_messages (
    id uuid PRIMARY KEY,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
    event_type text NOT NULL,
    -- The body as sent: {type, timestamp, data}; ids, times and codes only.
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_messages_due ON webhook_messages (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_messages_by_endpoint ON webhook_messages (endpoint_id, id);

-- New messages wake the delivery workers (redelivery notifies itself).
CREATE TRIGGER webhook_messages_notify AFTER INSERT ON webhook_messages
    FOR EACH STATEMENT EXECUTE FUNCTION spotter_notify('spotter_webhooks');

CREATE TABLE webhook_attempts (
    message_id uuid NOT NULL REFERENCES webhook_messages ON DELETE CASCADE,
    attempt integer NOT NULL,
    endpoint_id uuid NOT NULL,
    attempted_at timestamptz NOT NULL DEFAULT now(),
    http_status integer,
    latency_ms integer NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('delivered', 'retry', 'gave_up')),
    error text,
    retry_at timestamptz,
    PRIMARY KEY (message_id, attempt)
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (endpoint_id, attempted_at DESC, message_id, attempt);

-- The clinic's admins hear when an endpoint is turned off after failing;
-- the CHECKs list NoticeKind again.
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_known;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_known
    CHECK (kind IN ('appointment_booked', 'appointment_reminder', 'target_missed', 'referral_waitlisted', 'emergency_advised', 'appointment_cancelled', 'appointment_declined', 'appointment_rescheduled', 'appointment_missed', 'guidance_shared', 'guidance_acknowledged', 'referral_deadline_near', 'referral_overdue', 'guidance_due', 'guidance_unread',
    'follow_up_booked', 'follow_up_moved', 'follow_up_waitlisted', 'follow_up_cancelled', 'referral_discharged',
    'doctor_advised', 'training_flare', 'training_drop_back', 'outcome_improved', 'webhook_disabled')) NOT VALID;
ALTER TABLE notification_preferences DROP CONSTRAINT notification_preferences_kind_known;
ALTER TABLE notification_preferences ADD CONSTRAINT notification_preferences_kind_known
    CHECK (kind IN ('appointment_booked', 'appointment_reminder', 'target_missed', 'referral_waitlisted', 'emergency_advised', 'appointment_cancelled', 'appointment_declined', 'appointment_rescheduled', 'appointment_missed', 'guidance_shared', 'guidance_acknowledged', 'referral_deadline_near', 'referral_overdue', 'guidance_due', 'guidance_unread',
    'follow_up_booked', 'follow_up_moved', 'follow_up_waitlisted', 'follow_up_cancelled', 'referral_discharged',
    'doctor_advised', 'training_flare', 'training_drop_back', 'outcome_improved', 'webhook_disabled')) NOT VALID;
