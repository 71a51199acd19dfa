DROP INDEX referral_requests_needing_review;
UPDATE referral_requests SET state = 'waitlisted' WHERE state = 'needs_review';
ALTER TABLE referral_requests DROP CONSTRAINT referral_requests_state_check;
ALTER TABLE referral_requests ADD CONSTRAINT referral_requests_state_check
    CHECK (state IN ('pending', 'waitlisted', 'booked', 'cancelled'));
ALTER TABLE referral_requests DROP COLUMN refusals_reviewed;
DROP TABLE clinic_refusals;
