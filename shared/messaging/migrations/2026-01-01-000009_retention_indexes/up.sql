-- Retention (spotter_messaging::retention) deletes through these: dedupe rows
-- past the redelivery window, and dead letters long after their replay.
CREATE INDEX inbox_by_age ON inbox (processed_at);
CREATE INDEX dead_letters_replayed ON dead_letters (replayed_at) WHERE replayed_at IS NOT NULL;
