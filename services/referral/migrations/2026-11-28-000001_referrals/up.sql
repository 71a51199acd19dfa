-- A trainer's clients. Contact details stay here; nothing about a client
-- leaves this service except its id.
CREATE TABLE clients (
    id UUID PRIMARY KEY,
    trainer_id UUID NOT NULL,
    display_name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX clients_by_trainer ON clients (trainer_id, id);

-- The referral: its state in the saga and what booking told us about it.
CREATE TABLE referrals (
    id UUID PRIMARY KEY,
    trainer_id UUID NOT NULL,
    client_id UUID NOT NULL REFERENCES clients (id),
    status TEXT NOT NULL CHECK (status IN ('awaiting_booking', 'emergency_advised', 'waitlisted',
        'booked', 'assessed', 'guidance_shared', 'acknowledged', 'cancelled', 'no_show')),
    priority TEXT NOT NULL CHECK (priority IN ('emergency', 'urgent', 'routine')),
    -- Incremented each time the referral is sent to booking again.
    attempt INTEGER NOT NULL DEFAULT 1,
    target_by TIMESTAMPTZ,
    appointment_id UUID,
    appointment_starts_at TIMESTAMPTZ,
    appointment_ends_at TIMESTAMPTZ,
    physio_id UUID,
    clinic_id UUID,
    target_missed BOOLEAN,
    first_booked_at TIMESTAMPTZ,
    first_guidance_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX referrals_by_trainer ON referrals (trainer_id, id);
CREATE INDEX referrals_by_physio ON referrals (physio_id, id);
CREATE INDEX referrals_by_clinic ON referrals (clinic_id, id);

-- The trainer's report: health data, read only by the trainer and the
-- assigned physio, every read and write audited.
CREATE TABLE injury_reports (
    referral_id UUID PRIMARY KEY REFERENCES referrals (id),
    body_region TEXT NOT NULL,
    side TEXT NOT NULL,
    pain_level SMALLINT NOT NULL CHECK (pain_level BETWEEN 0 AND 10),
    onset_date DATE NOT NULL,
    mechanism TEXT NOT NULL,
    description TEXT NOT NULL,
    red_flags TEXT[] NOT NULL,
    consent_method TEXT NOT NULL,
    consent_recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Every change of a referral, in order, with its cause.
CREATE TABLE referral_timeline (
    id BIGSERIAL PRIMARY KEY,
    referral_id UUID NOT NULL REFERENCES referrals (id),
    status TEXT NOT NULL,
    cause TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX timeline_by_referral ON referral_timeline (referral_id, id);

-- The physio's guidance, versioned: the latest is current, older ones stay.
CREATE TABLE guidance (
    id UUID PRIMARY KEY,
    referral_id UUID NOT NULL REFERENCES referrals (id),
    version INTEGER NOT NULL,
    physio_id UUID NOT NULL,
    clearance TEXT NOT NULL CHECK (clearance IN ('no_training', 'modified_training', 'full_training')),
    avoid JSONB NOT NULL,
    exercises JSONB NOT NULL,
    load_limits JSONB NOT NULL,
    review_on DATE NOT NULL,
    notes_for_trainer TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    acknowledged_at TIMESTAMPTZ,
    UNIQUE (referral_id, version)
);

-- Who read or wrote injury or guidance data, when, about which referral.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_id UUID NOT NULL,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    referral_id UUID NOT NULL
);
CREATE INDEX audit_by_referral ON audit_log (referral_id, id);
