-- Follow-ups (docs/architecture.md, "Follow-ups"): guidance with a review
-- date is booked as a follow-up with the treating physio.

-- A constant default: PostgreSQL adds the column without rewriting the table.
ALTER TABLE appointments
    ADD COLUMN kind text NOT NULL DEFAULT 'assessment'
    CONSTRAINT appointments_kind_check CHECK (kind IN ('assessment', 'follow_up'));

-- The follow-up a referral's latest guidance asks for: one per referral,
-- replaced by newer guidance (a higher version), kept while it waits for
-- room so the waitlist can book it, and closed once nothing is wanted.
CREATE TABLE follow_up_requests (
    referral_id uuid PRIMARY KEY REFERENCES referral_requests (referral_id),
    -- The treating physio, asked first (anyone at the clinic only once
    -- they are gone).
    physio_id uuid NOT NULL,
    clinic_id uuid NOT NULL,
    review_on date NOT NULL,
    guidance_version int NOT NULL,
    state text NOT NULL
        CONSTRAINT follow_up_requests_state_check
        CHECK (state IN ('booked', 'waitlisted', 'closed')),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The waitlist retries the follow-ups waiting at a clinic whose capacity
-- changed, and sweeps all of them.
CREATE INDEX follow_up_requests_waiting
    ON follow_up_requests (clinic_id) WHERE state = 'waitlisted';
