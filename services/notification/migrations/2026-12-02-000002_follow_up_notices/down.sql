DELETE FROM notification_preferences WHERE kind IN ('follow_up_booked', 'follow_up_moved', 'follow_up_waitlisted', 'follow_up_cancelled', 'referral_discharged');
ALTER TABLE notifications DROP CONSTRAINT notifications_kind_known;
ALTER TABLE notification_preferences DROP CONSTRAINT notification_preferences_kind_known;
