-- The parked messages still waiting for a replay: what the
-- `spotter_dead_letters_parked` gauge counts every sample, read without
-- scanning the replayed history.
CREATE INDEX dead_letters_parked ON dead_letters (parked_at) WHERE replayed_at IS NULL;
