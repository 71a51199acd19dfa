DELETE FROM deadlines WHERE kind = 'adherence_week';
ALTER TABLE deadlines DROP CONSTRAINT deadlines_kind_check;
ALTER TABLE deadlines ADD CONSTRAINT deadlines_kind_check
    CHECK (kind IN ('booking', 'guidance', 'acknowledgement', 'medical_clearance'));
