DROP TABLE outbox;
DROP FUNCTION IF EXISTS outbox_notify(); -- gone since 000006_outbox_notify
