-- When the client should have been seen by, as the referral service's triage
-- set it (ReferralRequested.target_by): booking flags a later slot with it
-- instead of keeping its own copy of the priorities' windows. Requests stored
-- before this column get what those windows gave them.
ALTER TABLE referral_requests ADD COLUMN target_by TIMESTAMPTZ;
UPDATE referral_requests
    SET target_by = requested_at + CASE priority WHEN 'urgent' THEN interval '48 hours' ELSE interval '7 days' END;
