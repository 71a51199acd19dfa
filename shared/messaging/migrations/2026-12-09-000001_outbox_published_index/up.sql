-- The relay prunes published rows past retention (`outbox::relay`). Without
-- an index on published_at each prune read every row the outbox retains
-- (7 days of events) to find the expired ones; through this one it reads
-- what it deletes. Pending rows (NULL) are left out: they are found through
-- outbox_pending, and leaving them out keeps an insert's cost as it was.
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
