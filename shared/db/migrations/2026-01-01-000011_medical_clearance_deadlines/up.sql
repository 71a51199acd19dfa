-- A referral sent to medical care by triage waits for a doctor's clearance
-- for a while, then closes (docs/triage.md, "What happens next").
ALTER TABLE deadlines DROP CONSTRAINT deadlines_kind_check;
ALTER TABLE deadlines ADD CONSTRAINT deadlines_kind_check
    CHECK (kind IN ('booking', 'guidance', 'acknowledgement', 'medical_clearance'));
