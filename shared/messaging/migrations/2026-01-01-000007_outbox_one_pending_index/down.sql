CREATE INDEX outbox_pending_seq ON outbox (seq) WHERE published_at IS NULL;
