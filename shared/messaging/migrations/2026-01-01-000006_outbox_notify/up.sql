-- The relay's wake-up through the shared spotter_notify() function.
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION spotter_notify('spotter_outbox');
