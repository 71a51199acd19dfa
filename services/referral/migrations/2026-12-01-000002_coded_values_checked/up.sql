-- Every coded value is a text column whose CHECK lists the names the Rust
-- enum declares (docs/architecture.md, "HTTP conventions"); the service's
-- tests compare the two. NOT VALID: rows written before were validated by
-- the API already, and checking them would lock the table for a full scan.
ALTER TABLE injury_reports
    ADD CONSTRAINT injury_reports_body_region_check CHECK (body_region IN (
        'neck', 'shoulder', 'elbow', 'wrist_hand', 'upper_back', 'lower_back',
        'hip', 'knee', 'ankle_foot', 'other')) NOT VALID,
    ADD CONSTRAINT injury_reports_side_check CHECK (side IN (
        'left', 'right', 'both', 'not_applicable')) NOT VALID,
    ADD CONSTRAINT injury_reports_consent_method_check CHECK (consent_method IN (
        'verbal', 'written', 'in_app')) NOT VALID,
    ADD CONSTRAINT injury_reports_red_flags_check CHECK (red_flags <@ ARRAY[
        'numbness_or_tingling', 'bladder_or_bowel_change', 'chest_pain_or_breathlessness',
        'head_injury', 'suspected_fracture_or_dislocation', 'unable_to_bear_weight',
        'fever_or_unexplained_weight_loss', 'severe_night_pain']::text[]) NOT VALID;

ALTER TABLE referral_timeline
    ADD CONSTRAINT referral_timeline_status_check CHECK (status IN (
        'awaiting_booking', 'emergency_advised', 'waitlisted', 'booked', 'assessed',
        'guidance_shared', 'acknowledged', 'cancelled', 'no_show')) NOT VALID;
