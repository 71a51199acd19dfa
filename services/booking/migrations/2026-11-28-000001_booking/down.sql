DROP TABLE appointments;
DROP TABLE referral_cancellations;
DROP TABLE referral_requests;
DROP TABLE time_off;
DROP TABLE weekly_hours;
DROP TABLE physios;
ALTER TABLE clinics DROP COLUMN assessment_minutes, DROP COLUMN follow_up_minutes,
    DROP COLUMN buffer_minutes, DROP COLUMN min_notice_minutes, DROP COLUMN horizon_days;
