ALTER TABLE referrals DROP COLUMN no_shows;
