-- How long booking has lately taken, per priority: what a trainer waiting on
-- a queued referral is told to expect. Read as the newest few, by index.
CREATE INDEX referrals_recently_booked ON referrals (priority, first_booked_at DESC)
    WHERE first_booked_at IS NOT NULL;
