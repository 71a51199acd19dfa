DROP TABLE outcome_measures;
DROP TABLE training_sessions;
ALTER TABLE injury_reports DROP COLUMN psfs;
ALTER TABLE referrals DROP COLUMN clinic_timezone;
