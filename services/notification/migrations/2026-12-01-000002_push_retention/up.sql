-- Retention deletes finished pushes (and, by cascade, their attempts) a
-- month after they finished, through this index.
CREATE INDEX push_deliveries_finished ON push_deliveries (updated_at) WHERE status <> 'pending';
