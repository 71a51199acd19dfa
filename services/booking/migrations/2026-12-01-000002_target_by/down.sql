ALTER TABLE referral_requests DROP COLUMN target_by;
