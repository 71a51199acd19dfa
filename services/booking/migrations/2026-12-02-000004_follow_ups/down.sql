DROP TABLE follow_up_requests;
DROP INDEX appointments_of_referral;
ALTER TABLE appointments DROP COLUMN kind;
