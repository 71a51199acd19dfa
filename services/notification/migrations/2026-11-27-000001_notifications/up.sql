-- The in-app inbox. Titles and bodies never carry health detail
-- (docs/architecture.md, "HTTP conventions"); `data` holds only ids the app
-- uses to fetch details with its own token.
CREATE TABLE notifications (
    id UUID PRIMARY KEY,
    recipient_id UUID NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    data JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    read_at TIMESTAMPTZ
);

CREATE INDEX notifications_by_recipient ON notifications (recipient_id, id DESC);
