-- Wake the reminder workers only for a reminder due soon. A worker never
-- naps longer than 30 s (LONGEST_NAP in shared/db/src/wake.rs) and plans its next nap
-- from the earliest due reminder, so one due later than two minutes from now
-- is found by an ordinary round anyway. Waking on every insert made the
-- workers query twice for every appointment booked (docs/architecture.md,
-- "What one flow costs").
DROP TRIGGER reminders_notify ON reminders;
CREATE TRIGGER reminders_notify AFTER INSERT ON reminders
    FOR EACH ROW WHEN (NEW.due_at < now() + interval '2 minutes')
    EXECUTE FUNCTION spotter_notify('spotter_reminders');
