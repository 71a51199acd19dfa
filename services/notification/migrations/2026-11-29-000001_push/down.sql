-- The wake-up triggers stay on spotter_notify(), which does what the
-- per-table functions did.
DROP TABLE push_attempts;
DROP TABLE push_deliveries;
