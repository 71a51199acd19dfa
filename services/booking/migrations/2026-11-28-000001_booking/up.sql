-- Booking policy lives on the clinic: one policy per clinic, sensible defaults.
ALTER TABLE clinics
    ADD COLUMN assessment_minutes INTEGER NOT NULL DEFAULT 45 CHECK (assessment_minutes BETWEEN 15 AND 240),
    ADD COLUMN follow_up_minutes INTEGER NOT NULL DEFAULT 30 CHECK (follow_up_minutes BETWEEN 15 AND 240),
    ADD COLUMN buffer_minutes INTEGER NOT NULL DEFAULT 10 CHECK (buffer_minutes BETWEEN 0 AND 120),
    ADD COLUMN min_notice_minutes INTEGER NOT NULL DEFAULT 120 CHECK (min_notice_minutes BETWEEN 0 AND 10080),
    ADD COLUMN horizon_days INTEGER NOT NULL DEFAULT 28 CHECK (horizon_days BETWEEN 1 AND 90);

-- A physio's id is their identity-provider subject, so their token finds them.
CREATE TABLE physios (
    id UUID PRIMARY KEY,
    clinic_id UUID NOT NULL REFERENCES clinics (id),
    display_name TEXT NOT NULL,
    specialties TEXT[] NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX physios_by_clinic ON physios (clinic_id);

-- Local wall-clock times in the clinic's zone (DST is applied when slots are made).
CREATE TABLE weekly_hours (
    physio_id UUID NOT NULL REFERENCES physios (id) ON DELETE CASCADE,
    weekday SMALLINT NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    start_time TIME NOT NULL,
    end_time TIME NOT NULL CHECK (start_time < end_time),
    PRIMARY KEY (physio_id, weekday, start_time)
);

CREATE TABLE time_off (
    id UUID PRIMARY KEY,
    physio_id UUID NOT NULL REFERENCES physios (id) ON DELETE CASCADE,
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL CHECK (starts_at < ends_at),
    reason TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX time_off_by_physio ON time_off (physio_id, ends_at);

-- What booking keeps of each referral it was asked to book (from
-- ReferralRequested): enough to match and to retry from the waitlist.
CREATE TABLE referral_requests (
    referral_id UUID PRIMARY KEY,
    trainer_id UUID NOT NULL,
    client_id UUID NOT NULL,
    body_region TEXT NOT NULL,
    priority TEXT NOT NULL CHECK (priority IN ('urgent', 'routine')),
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'waitlisted', 'booked', 'cancelled')),
    waitlisted_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- The waitlist, most urgent then oldest first.
CREATE INDEX waitlist_order ON referral_requests ((priority = 'urgent') DESC, requested_at)
    WHERE state = 'waitlisted';

-- Referrals the trainer cancelled. A cancellation handled before its request
-- (deliveries run concurrently) must still stop that request from booking.
CREATE TABLE referral_cancellations (
    referral_id UUID PRIMARY KEY,
    cancelled_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE appointments (
    id UUID PRIMARY KEY,
    referral_id UUID NOT NULL REFERENCES referral_requests (referral_id),
    trainer_id UUID NOT NULL,
    client_id UUID NOT NULL,
    physio_id UUID NOT NULL REFERENCES physios (id),
    clinic_id UUID NOT NULL REFERENCES clinics (id),
    priority TEXT NOT NULL,
    starts_at TIMESTAMPTZ NOT NULL,
    ends_at TIMESTAMPTZ NOT NULL CHECK (starts_at < ends_at),
    status TEXT NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'completed', 'no_show', 'cancelled')),
    target_missed BOOLEAN NOT NULL,
    cancelled_by TEXT,
    cancel_reason TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The last word against double booking, under any concurrency and any
    -- number of replicas: two booked appointments of one physio never overlap
    -- (a violation is SQLSTATE 23P01: "take the next slot").
    EXCLUDE USING gist (physio_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
        WHERE (status = 'booked')
);
-- One active appointment per referral: a redelivered request books once.
CREATE UNIQUE INDEX one_booked_appointment_per_referral ON appointments (referral_id)
    WHERE status = 'booked';
CREATE INDEX appointments_by_physio ON appointments (physio_id, starts_at);
CREATE INDEX appointments_by_clinic ON appointments (clinic_id, starts_at);
CREATE INDEX appointments_by_trainer ON appointments (trainer_id, starts_at);
