DROP TABLE medical_clearances;
DROP TABLE screenings;
-- What only this migration's causes and statuses record goes; the earlier
-- constraints come back.
DELETE FROM referral_timeline WHERE cause IN ('medically_cleared', 'advice_expired')
    OR status IN ('doctor_advised', 'closed');
UPDATE referrals SET status = 'emergency_advised' WHERE status IN ('doctor_advised', 'closed');
ALTER TABLE referral_timeline DROP CONSTRAINT referral_timeline_cause_known;
ALTER TABLE referral_timeline ADD CONSTRAINT referral_timeline_cause_known
    CHECK (cause IN ('injury_reported', 'appointment_booked', 'waitlisted', 'waiting_for_review', 'appointment_rescheduled', 'appointment_completed', 'appointment_no_show', 'appointment_declined', 'appointment_cancelled_by_clinic', 'appointment_cancelled', 'booking_overdue', 'rebooked_after_no_show', 'trainer_cancelled', 'consent_withdrawn', 'guidance_shared', 'guidance_acknowledged',
    'follow_up_booked', 'follow_up_moved', 'follow_up_waitlisted', 'follow_up_cancelled', 'follow_up_completed', 'discharged')) NOT VALID;
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
