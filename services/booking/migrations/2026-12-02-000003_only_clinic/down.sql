ALTER TABLE referral_requests DROP COLUMN only_clinic_id;
