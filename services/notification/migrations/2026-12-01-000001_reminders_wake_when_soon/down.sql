DROP TRIGGER reminders_notify ON reminders;
CREATE TRIGGER reminders_notify AFTER INSERT ON reminders
    FOR EACH STATEMENT EXECUTE FUNCTION spotter_notify('spotter_reminders');
