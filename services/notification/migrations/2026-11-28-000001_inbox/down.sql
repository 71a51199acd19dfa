DROP TABLE notification_preferences;
DROP TABLE devices;
DROP TRIGGER notifications_notify ON notifications;
DROP FUNCTION IF EXISTS notifications_notify(); -- gone since the push migration
ALTER TABLE notifications DROP CONSTRAINT addressed, DROP COLUMN seq, DROP COLUMN clinic_id, DROP COLUMN updated_at;
ALTER TABLE notifications ALTER COLUMN recipient_id SET NOT NULL;
