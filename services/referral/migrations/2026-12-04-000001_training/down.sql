DROP TABLE outcome_measures;
DROP TABLE training_sessions;
ALTER TABLE referrals DROP COLUMN clinic_timezone;
