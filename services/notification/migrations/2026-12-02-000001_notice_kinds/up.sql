-- A notification's kind is one of NoticeKind (src/notices.rs); the API
-- already refused any other, and this keeps the stored rows to the same list
-- (tests/api/vocabulary.rs compares the two).
ALTER TABLE notifications ADD CONSTRAINT notifications_kind_known
    CHECK (kind IN ('appointment_booked', 'appointment_reminder', 'target_missed', 'referral_waitlisted', 'emergency_advised', 'appointment_cancelled', 'appointment_declined', 'appointment_rescheduled', 'appointment_missed', 'guidance_shared', 'guidance_acknowledged', 'referral_deadline_near', 'referral_overdue', 'guidance_due', 'guidance_unread'));
ALTER TABLE notification_preferences ADD CONSTRAINT notification_preferences_kind_known
    CHECK (kind IN ('appointment_booked', 'appointment_reminder', 'target_missed', 'referral_waitlisted', 'emergency_advised', 'appointment_cancelled', 'appointment_declined', 'appointment_rescheduled', 'appointment_missed', 'guidance_shared', 'guidance_acknowledged', 'referral_deadline_near', 'referral_overdue', 'guidance_due', 'guidance_unread'));
