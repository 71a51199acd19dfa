-- Training around the injury (docs/training.md): the trainer's session log,
-- outcome measures, and the clinic's time zone (training weeks are counted
-- in it; booking names it in AppointmentBooked).
ALTER TABLE referrals ADD COLUMN clinic_timezone text;

-- One session a trainer ran with the client: what was done (exercises with
-- pattern, sets, reps and load, as JSON), how hard and how painful; the
-- guidance version it was logged under and what made it a flare, if
-- anything. `pain_after` (24 h later) may be added the next day.
CREATE TABLE training_sessions (
    id uuid PRIMARY KEY,
    referral_id uuid NOT NULL REFERENCES referrals (id),
    performed_at timestamptz NOT NULL,
    exercises jsonb NOT NULL,
    session_rpe smallint NOT NULL CHECK (session_rpe BETWEEN 1 AND 10),
    pain_during smallint NOT NULL CHECK (pain_during BETWEEN 0 AND 10),
    pain_after smallint CHECK (pain_after BETWEEN 0 AND 10),
    guidance_version integer NOT NULL CHECK (guidance_version >= 1),
    flare_signs text[] NOT NULL DEFAULT '{}'
        CHECK (flare_signs <@ ARRAY['pain_above_ceiling', 'rpe_above_max']),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- The log's pages (newest first), its delta sync, and the week's sessions
-- and recent flares, each read through the referral's own rows only.
CREATE INDEX training_sessions_page ON training_sessions (referral_id, id);
CREATE INDEX training_sessions_changed ON training_sessions (referral_id, updated_at);
CREATE INDEX training_sessions_performed ON training_sessions (referral_id, performed_at);

-- The baseline of the outcome measures is the injury report's: its pain
-- level is the NPRS, and this the PSFS (up to three activities, each 0-10)
-- the trainer scored with the client at the flag.
ALTER TABLE injury_reports ADD COLUMN psfs jsonb NOT NULL DEFAULT '[]';

-- NPRS and PSFS as the physio scores them at each assessment or follow-up.
CREATE TABLE outcome_measures (
    id uuid PRIMARY KEY,
    referral_id uuid NOT NULL REFERENCES referrals (id),
    occasion text NOT NULL CHECK (occasion IN ('assessment', 'follow_up')),
    recorded_by uuid NOT NULL,
    nprs smallint NOT NULL CHECK (nprs BETWEEN 0 AND 10),
    psfs jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outcome_measures_by_referral ON outcome_measures (referral_id, recorded_at);
