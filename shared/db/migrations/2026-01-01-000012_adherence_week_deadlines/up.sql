-- The end of each week of training under guidance is a deadline of the
-- referral service's (docs/training.md, "Adherence"); the CHECK lists
-- DeadlineKind again. NOT VALID: no scan under the lock, and no existing
-- row can break a list that only grows.
ALTER TABLE deadlines DROP CONSTRAINT deadlines_kind_check;
ALTER TABLE deadlines ADD CONSTRAINT deadlines_kind_check
    CHECK (kind IN ('booking', 'guidance', 'acknowledgement', 'medical_clearance', 'adherence_week')) NOT VALID;
