-- When booking said the referral was still unbooked past its target
-- (BookingDeadlineReached, escalation): kept once it is booked, as the
-- record that it was late (docs/architecture.md, "Deadlines").
ALTER TABLE referrals ADD COLUMN overdue_since timestamptz;
