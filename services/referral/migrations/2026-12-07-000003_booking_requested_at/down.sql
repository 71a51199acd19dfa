ALTER TABLE referrals DROP COLUMN booking_requested_at;
