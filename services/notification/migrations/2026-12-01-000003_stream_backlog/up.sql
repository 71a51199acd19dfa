-- A resumed live stream catches up on one caller's notifications after a
-- position (`Last-Event-ID`), in position order (docs/architecture.md, "Live
-- streams and phones"). Without these it walked everyone's notifications
-- since that position, or the caller's whole history: a quiet user's
-- reconnect after days, or `Last-Event-ID: 0`, cost what the table holds.
CREATE INDEX notifications_by_recipient_seq ON notifications (recipient_id, seq);
CREATE INDEX notifications_by_clinic_seq ON notifications (clinic_id, seq)
    WHERE clinic_id IS NOT NULL;
