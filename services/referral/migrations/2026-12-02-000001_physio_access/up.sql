-- The physio whose access to this referral's health detail ended while they
-- still held it (deactivated by their clinic: booking's PhysioAccessEnded).
-- Cleared when the referral is booked again.
ALTER TABLE referrals ADD COLUMN physio_access_ended_for UUID;
