DROP INDEX IF EXISTS referrals_recently_booked;
