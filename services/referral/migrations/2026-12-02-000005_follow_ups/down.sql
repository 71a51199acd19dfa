DROP TABLE visits;
UPDATE guidance SET review_on = created_at::date + 28 WHERE review_on IS NULL;
ALTER TABLE guidance ALTER COLUMN review_on SET NOT NULL;
DROP INDEX referrals_discharged_by_client;
ALTER TABLE referrals DROP COLUMN previous_referral_id;
ALTER TABLE referrals DROP COLUMN discharged_at;
