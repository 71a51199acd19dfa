-- Notifications for a whole clinic (read by any of its admins).
ALTER TABLE notifications ALTER COLUMN recipient_id DROP NOT NULL;
ALTER TABLE notifications ADD COLUMN clinic_id UUID;
ALTER TABLE notifications ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE notifications ADD CONSTRAINT addressed CHECK (recipient_id IS NOT NULL OR clinic_id IS NOT NULL);
CREATE INDEX notifications_by_clinic ON notifications (clinic_id, id DESC) WHERE clinic_id IS NOT NULL;

-- The live stream's order: assigned under a lock held to commit (see
-- consumer.rs), so a higher number never becomes visible before a lower one.
ALTER TABLE notifications ADD COLUMN seq BIGSERIAL NOT NULL;
CREATE UNIQUE INDEX notifications_seq ON notifications (seq);

-- Tell every replica's live streams that something arrived (delivered at commit).
CREATE FUNCTION notifications_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('spotter_notifications', '');
    RETURN NULL;
END $$;
CREATE TRIGGER notifications_notify AFTER INSERT ON notifications
    FOR EACH STATEMENT EXECUTE FUNCTION notifications_notify();

-- Phones to push to. A token belongs to one user: registering it again moves it.
CREATE TABLE devices (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL,
    platform TEXT NOT NULL CHECK (platform IN ('ios', 'android')),
    token TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX devices_by_user ON devices (user_id);

-- Push on or off per kind of notification (the inbox always records).
CREATE TABLE notification_preferences (
    user_id UUID NOT NULL,
    kind TEXT NOT NULL,
    push BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, kind)
);
