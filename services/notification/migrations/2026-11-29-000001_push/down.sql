DROP TABLE push_attempts;
DROP TABLE push_deliveries;
DROP TRIGGER reminders_notify ON reminders;
CREATE FUNCTION reminders_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('spotter_reminders', '');
    RETURN NULL;
END $$;
CREATE TRIGGER reminders_notify AFTER INSERT OR UPDATE ON reminders
    FOR EACH STATEMENT EXECUTE FUNCTION reminders_notify();
DROP TRIGGER notifications_notify ON notifications;
CREATE FUNCTION notifications_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('spotter_notifications', '');
    RETURN NULL;
END $$;
CREATE TRIGGER notifications_notify AFTER INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_notify();
