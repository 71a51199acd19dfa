ALTER TABLE referrals DROP COLUMN overdue_since;
