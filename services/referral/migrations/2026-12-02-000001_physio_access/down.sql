ALTER TABLE referrals DROP COLUMN physio_access_ended_for;
