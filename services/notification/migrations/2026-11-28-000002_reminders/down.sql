DROP TABLE reminders;
DROP FUNCTION reminders_notify();
