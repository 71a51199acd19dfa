DROP TABLE notification_preferences;
DROP TABLE devices;
DROP TRIGGER notifications_notify ON notifications;
DROP FUNCTION notifications_notify();
ALTER TABLE notifications DROP CONSTRAINT addressed, DROP COLUMN seq, DROP COLUMN clinic_id, DROP COLUMN updated_at;
ALTER TABLE notifications ALTER COLUMN recipient_id SET NOT NULL;
