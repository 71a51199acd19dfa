-- The clinic's summary reads only its referrals of a recent window
-- (docs/architecture.md, "Deadlines": the clinic's figures), through this
-- index, so its cost follows the window and not the clinic's whole history.
CREATE INDEX referrals_by_clinic_created ON referrals (clinic_id, created_at);
