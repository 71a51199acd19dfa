DROP TABLE reminders;
DROP FUNCTION IF EXISTS reminders_notify(); -- gone since the push migration
