-- Missed appointments (docs/architecture.md, "Missed appointments"): the
-- first offers one rebooking with the same clinic, the second closes the
-- referral as `not_attended`.
ALTER TABLE referrals ADD COLUMN no_shows integer NOT NULL DEFAULT 0;

ALTER TABLE referrals DROP CONSTRAINT referrals_status_check;
ALTER TABLE referrals ADD CONSTRAINT referrals_status_check CHECK (status IN (
    'awaiting_booking', 'emergency_advised', 'waitlisted', 'booked', 'assessed',
    'guidance_shared', 'acknowledged', 'cancelled', 'no_show', 'not_attended')) NOT VALID;

ALTER TABLE referral_timeline DROP CONSTRAINT referral_timeline_status_check;
ALTER TABLE referral_timeline ADD CONSTRAINT referral_timeline_status_check CHECK (status IN (
    'awaiting_booking', 'emergency_advised', 'waitlisted', 'booked', 'assessed',
    'guidance_shared', 'acknowledged', 'cancelled', 'no_show', 'not_attended')) NOT VALID;
