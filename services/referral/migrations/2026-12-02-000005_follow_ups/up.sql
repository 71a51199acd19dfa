-- The course of care (docs/architecture.md, "Follow-ups", "Discharge"):
-- follow-up visits, discharge, and a new referral linked to the one it
-- follows.
ALTER TABLE referrals DROP CONSTRAINT referrals_status_check;
ALTER TABLE referrals ADD CONSTRAINT referrals_status_check CHECK (status IN (
    'awaiting_booking', 'emergency_advised', 'waitlisted', 'booked', 'assessed',
    'guidance_shared', 'acknowledged', 'cancelled', 'no_show', 'not_attended',
    'discharged')) NOT VALID;

ALTER TABLE referral_timeline DROP CONSTRAINT referral_timeline_status_check;
ALTER TABLE referral_timeline ADD CONSTRAINT referral_timeline_status_check CHECK (status IN (
    'awaiting_booking', 'emergency_advised', 'waitlisted', 'booked', 'assessed',
    'guidance_shared', 'acknowledged', 'cancelled', 'no_show', 'not_attended',
    'discharged')) NOT VALID;

ALTER TABLE referral_timeline DROP CONSTRAINT referral_timeline_cause_known;
ALTER TABLE referral_timeline ADD CONSTRAINT referral_timeline_cause_known
    CHECK (cause IN ('injury_reported', 'appointment_booked', 'waitlisted', 'waiting_for_review', 'appointment_rescheduled', 'appointment_completed', 'appointment_no_show', 'appointment_declined', 'appointment_cancelled_by_clinic', 'appointment_cancelled', 'booking_overdue', 'rebooked_after_no_show', 'trainer_cancelled', 'consent_withdrawn', 'guidance_shared', 'guidance_acknowledged',
    'follow_up_booked', 'follow_up_moved', 'follow_up_waitlisted', 'follow_up_cancelled', 'follow_up_completed', 'discharged')) NOT VALID;

-- Guidance without a review date: no follow-up (with full training, a discharge).
ALTER TABLE guidance ALTER COLUMN review_on DROP NOT NULL;

-- When it was closed as discharged (the time to discharge in the course view).
ALTER TABLE referrals ADD COLUMN discharged_at timestamptz;
-- A new flag for the same client and body region after a discharge links to
-- the referral it follows, so the physio sees the history.
ALTER TABLE referrals ADD COLUMN previous_referral_id uuid REFERENCES referrals (id);
-- Finding that earlier referral at flag time: one probe per flag.
CREATE INDEX referrals_discharged_by_client
    ON referrals (client_id) WHERE status = 'discharged';

-- Every visit of a referral (assessment, follow-ups) as booking reported it.
CREATE TABLE visits (
    appointment_id uuid PRIMARY KEY,
    referral_id uuid NOT NULL REFERENCES referrals (id),
    kind text NOT NULL CONSTRAINT visits_kind_check CHECK (kind IN ('assessment', 'follow_up')),
    status text NOT NULL CONSTRAINT visits_status_check
        CHECK (status IN ('booked', 'completed', 'no_show', 'cancelled')),
    starts_at timestamptz,
    ends_at timestamptz,
    physio_id uuid NOT NULL,
    clinic_id uuid NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visits_of_referral ON visits (referral_id, starts_at);

-- The current appointment of every referral booked before visits were
-- recorded, so news of it is recognised (and of an older one, stale).
INSERT INTO visits (appointment_id, referral_id, kind, status, starts_at, ends_at, physio_id, clinic_id)
SELECT appointment_id, id, 'assessment',
       CASE WHEN status = 'booked' THEN 'booked'
            WHEN status IN ('assessed', 'guidance_shared', 'acknowledged') THEN 'completed'
            WHEN status IN ('no_show', 'not_attended') THEN 'no_show'
            ELSE 'cancelled' END,
       appointment_starts_at, appointment_ends_at, physio_id, clinic_id
FROM referrals
WHERE appointment_id IS NOT NULL AND physio_id IS NOT NULL AND clinic_id IS NOT NULL;
