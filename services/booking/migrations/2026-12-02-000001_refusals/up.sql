-- A physio's or clinic's own declines and cancellations of a referral (docs/architecture.md,
-- "Fair use"): a referral is never booked again at a clinic that refused it,
-- and after `quotas.refusals_before_review` refusals it stops auto-booking and
-- waits on the platform admins' worklist (state 'needs_review').
CREATE TABLE clinic_refusals (
    appointment_id UUID PRIMARY KEY REFERENCES appointments (id),
    referral_id UUID NOT NULL,
    clinic_id UUID NOT NULL,
    -- Why it was declined; NULL: cancelled on the clinic's side instead.
    decline_reason TEXT CHECK (decline_reason IN ('outside_scope', 'not_suitable_for_clinic', 'no_capacity')),
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX clinic_refusals_by_referral ON clinic_refusals (referral_id);
CREATE INDEX clinic_refusals_by_clinic ON clinic_refusals (clinic_id, at);

-- Refusals a platform admin has already reviewed (released from the
-- worklist): only those after them count towards the next review.
ALTER TABLE referral_requests ADD COLUMN refusals_reviewed INT NOT NULL DEFAULT 0;

ALTER TABLE referral_requests DROP CONSTRAINT referral_requests_state_check;
ALTER TABLE referral_requests ADD CONSTRAINT referral_requests_state_check
    CHECK (state IN ('pending', 'waitlisted', 'booked', 'cancelled', 'needs_review')) NOT VALID;
-- The platform admins' worklist, paged by referral id (time-ordered).
CREATE INDEX referral_requests_needing_review ON referral_requests (referral_id)
    WHERE state = 'needs_review';
