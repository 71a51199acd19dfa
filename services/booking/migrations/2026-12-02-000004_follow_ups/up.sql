-- Follow-ups (docs/architecture.md, "Follow-ups"): guidance with a review
-- date is booked as a follow-up with the treating physio.

-- A constant default: PostgreSQL adds the column without rewriting the
-- table; the CHECK is added NOT VALID so no scan runs under the lock (every
-- existing row holds the default).
ALTER TABLE appointments ADD COLUMN kind text NOT NULL DEFAULT 'assessment';
ALTER TABLE appointments ADD CONSTRAINT appointments_kind_check
    CHECK (kind IN ('assessment', 'follow_up')) NOT VALID;

-- A referral's appointments (its no-shows are counted per referral; the
-- unique index on referral_id covers booked ones only).
CREATE INDEX appointments_of_referral ON appointments (referral_id);

-- The follow-up a referral's latest guidance asks for: one row per
-- referral, every guidance version recorded (a newer one wins, with or
-- without a review date).
CREATE TABLE follow_up_requests (
    referral_id uuid PRIMARY KEY REFERENCES referral_requests (referral_id),
    -- The treating physio, asked first (anyone at the clinic only once
    -- they are gone).
    physio_id uuid NOT NULL,
    clinic_id uuid NOT NULL,
    -- NULL: the latest guidance wants no review.
    review_on date,
    guidance_version int NOT NULL,
    -- The review date less the clinic's horizon: from then on the waitlist
    -- tries to book it.
    bookable_from date,
    state text NOT NULL
        CONSTRAINT follow_up_requests_state_check
        CHECK (state IN ('scheduled', 'booked', 'waitlisted', 'closed')),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The waitlist's sweep (those due) and its targeted retries (those at the
-- clinics whose capacity changed), each bounded by what is waiting.
CREATE INDEX follow_up_requests_due
    ON follow_up_requests (bookable_from) WHERE state IN ('scheduled', 'waitlisted');
CREATE INDEX follow_up_requests_due_at_clinic
    ON follow_up_requests (clinic_id) WHERE state IN ('scheduled', 'waitlisted');
