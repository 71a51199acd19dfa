-- Retention deletes finished webhook messages (and, by cascade, their
-- attempts: the delivery log) a month after they finished, through this
-- index; pending ones stay (docs/webhooks.md, "Delivery log").
CREATE INDEX webhook_messages_finished ON webhook_messages (updated_at) WHERE status <> 'pending';
