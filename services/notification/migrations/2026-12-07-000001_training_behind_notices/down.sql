DELETE FROM notifications WHERE kind = 'training_behind';
DELETE FROM notification_preferences WHERE kind = 'training_behind';
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_known;
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_known
    CHECK (kind IN ('appointment_booked', 'appointment_reminder', 'target_missed', 'referral_waitlisted', 'emergency_advised', 'appointment_cancelled', 'appointment_declined', 'appointment_rescheduled', 'appointment_missed', 'guidance_shared', 'guidance_acknowledged', 'referral_deadline_near', 'referral_overdue', 'guidance_due', 'guidance_unread',
    'follow_up_booked', 'follow_up_moved', 'follow_up_waitlisted', 'follow_up_cancelled', 'referral_discharged',
    'doctor_advised', 'training_flare', 'training_drop_back', 'outcome_improved', 'webhook_disabled')) NOT VALID;
ALTER TABLE notification_preferences DROP CONSTRAINT notification_preferences_kind_known;
ALTER TABLE notification_preferences ADD CONSTRAINT notification_preferences_kind_known
    CHECK (kind IN ('appointment_booked', 'appointment_reminder', 'target_missed', 'referral_waitlisted', 'emergency_advised', 'appointment_cancelled', 'appointment_declined', 'appointment_rescheduled', 'appointment_missed', 'guidance_shared', 'guidance_acknowledged', 'referral_deadline_near', 'referral_overdue', 'guidance_due', 'guidance_unread',
    'follow_up_booked', 'follow_up_moved', 'follow_up_waitlisted', 'follow_up_cancelled', 'referral_discharged',
    'doctor_advised', 'training_flare', 'training_drop_back', 'outcome_improved', 'webhook_disabled')) NOT VALID;
