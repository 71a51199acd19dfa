-- Triage by screening questionnaire (docs/triage.md): the answers a referral
-- was triaged with, the version they answered and what the rules decided;
-- a doctor's clearance after medical care was advised; and the statuses of
-- that path.
ALTER TABLE referrals DROP CONSTRAINT referrals_status_check;
ALTER TABLE referrals ADD CONSTRAINT referrals_status_check CHECK (status IN (
    'awaiting_booking', 'emergency_advised', 'doctor_advised', 'closed', 'waitlisted',
    'booked', 'assessed', 'guidance_shared', 'acknowledged', 'cancelled', 'no_show',
    'not_attended', 'discharged')) NOT VALID;

ALTER TABLE referral_timeline DROP CONSTRAINT referral_timeline_status_check;
ALTER TABLE referral_timeline ADD CONSTRAINT referral_timeline_status_check CHECK (status IN (
    'awaiting_booking', 'emergency_advised', 'doctor_advised', 'closed', 'waitlisted',
    'booked', 'assessed', 'guidance_shared', 'acknowledged', 'cancelled', 'no_show',
    'not_attended', 'discharged')) NOT VALID;

ALTER TABLE referral_timeline DROP CONSTRAINT referral_timeline_cause_known;
ALTER TABLE referral_timeline ADD CONSTRAINT referral_timeline_cause_known
    CHECK (cause IN ('injury_reported', 'appointment_booked', 'waitlisted', 'waiting_for_review', 'appointment_rescheduled', 'appointment_completed', 'appointment_no_show', 'appointment_declined', 'appointment_cancelled_by_clinic', 'appointment_cancelled', 'booking_overdue', 'rebooked_after_no_show', 'trainer_cancelled', 'consent_withdrawn', 'guidance_shared', 'guidance_acknowledged',
    'follow_up_booked', 'follow_up_moved', 'follow_up_waitlisted', 'follow_up_cancelled', 'follow_up_completed', 'discharged',
    'medically_cleared', 'advice_expired')) NOT VALID;

-- Immutable once written: a later questionnaire version never re-triages a
-- referral. `response` is a FHIR R4 QuestionnaireResponse; `source` says
-- whether the trainer answered the questionnaire or the deprecated
-- red-flag checklist was mapped onto it.
CREATE TABLE screenings (
    referral_id uuid PRIMARY KEY REFERENCES referrals (id),
    questionnaire_version integer NOT NULL CHECK (questionnaire_version >= 1),
    source text NOT NULL CHECK (source IN ('questionnaire', 'legacy_red_flags')),
    response jsonb NOT NULL,
    disposition text NOT NULL
        CHECK (disposition IN ('emergency_now', 'see_doctor_today', 'physio')),
    rules text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- "Seen by a doctor, cleared for physio": who cleared the client and when,
-- and the urgency the doctor's note set.
CREATE TABLE medical_clearances (
    referral_id uuid PRIMARY KEY REFERENCES referrals (id),
    cleared_on date NOT NULL,
    cleared_by text NOT NULL,
    urgency text NOT NULL CHECK (urgency IN ('urgent', 'routine')),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
