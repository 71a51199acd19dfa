DROP TABLE follow_up_requests;
ALTER TABLE appointments DROP COLUMN kind;
