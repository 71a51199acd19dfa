-- Published rows past retention are deleted by the retention task
-- (spotter_messaging::retention::PUBLISHED_OUTBOX). Without an index on
-- published_at each pass read every row the outbox retains (7 days of
-- events) to find the expired ones; through this one it reads what it
-- deletes. Pending rows (NULL) are left out: they are found through
-- outbox_pending. Built CONCURRENTLY (hence metadata.toml): a plain build
-- would block the service's writes for as long as it reads 7 days of rows.
CREATE INDEX CONCURRENTLY IF NOT EXISTS outbox_published
    ON outbox (published_at) WHERE published_at IS NOT NULL;
