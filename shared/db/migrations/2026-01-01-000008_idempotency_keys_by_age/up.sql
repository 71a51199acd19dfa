-- Retention deletes keys older than a day through this index (spotter_db::retention).
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
