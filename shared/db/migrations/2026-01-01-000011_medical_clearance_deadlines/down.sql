DELETE FROM deadlines WHERE kind = 'medical_clearance';
ALTER TABLE deadlines DROP CONSTRAINT deadlines_kind_check;
ALTER TABLE deadlines ADD CONSTRAINT deadlines_kind_check
    CHECK (kind IN ('booking', 'guidance', 'acknowledgement'));
