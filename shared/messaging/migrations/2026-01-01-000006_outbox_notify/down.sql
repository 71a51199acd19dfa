-- The relay's wake-up stays on spotter_notify(), which does what
-- outbox_notify() did; nothing to undo.
SELECT 1;
