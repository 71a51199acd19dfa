-- A rebooking the trainer confirmed after a missed appointment is with the
-- same clinic only (ReferralRequested.only_clinic_id; docs/architecture.md,
-- "Missed appointments"). NULL: any clinic within reach.
ALTER TABLE referral_requests ADD COLUMN only_clinic_id uuid;
