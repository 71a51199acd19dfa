-- When booking was asked for this referral, where that was not the flag: a
-- referral triage sent to a doctor first is put to booking by the doctor's
-- clearance, and its waits (the typical-wait estimate, the clinic's
-- time-to-book and time-to-guidance, the referral's durations) count from
-- then, not from the days with the doctor (docs/triage.md, "What happens
-- next"). Null: the flag asked for booking (created_at). Referrals cleared
-- before this column existed take their clearance's time.
ALTER TABLE referrals ADD COLUMN booking_requested_at timestamptz;
UPDATE referrals r SET booking_requested_at = c.recorded_at
FROM medical_clearances c WHERE c.referral_id = r.id;
