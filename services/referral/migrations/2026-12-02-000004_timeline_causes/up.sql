-- A timeline entry's cause is one of TimelineCause (src/domain/vocabulary.rs)
-- so the API can declare it as an enum; the guidance version that used to be
-- spelled into the cause ("guidance_v2_shared") gets a column of its own.
ALTER TABLE referral_timeline ADD COLUMN guidance_version INT;

UPDATE referral_timeline
SET guidance_version = substring(cause FROM '^guidance_v([0-9]+)_')::int,
    cause = regexp_replace(cause, '^guidance_v[0-9]+_', 'guidance_')
WHERE cause ~ '^guidance_v[0-9]+_(shared|acknowledged)$';

ALTER TABLE referral_timeline ADD CONSTRAINT referral_timeline_cause_known
    CHECK (cause IN ('injury_reported', 'appointment_booked', 'waitlisted', 'waiting_for_review', 'appointment_rescheduled', 'appointment_completed', 'appointment_no_show', 'appointment_declined', 'appointment_cancelled_by_clinic', 'appointment_cancelled', 'booking_overdue', 'rebooked_after_no_show', 'trainer_cancelled', 'consent_withdrawn', 'guidance_shared', 'guidance_acknowledged'));
