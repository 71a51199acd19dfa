-- Who cancelled an appointment: the names of `Canceller` (appointments/model.rs;
-- tests/api/vocabulary.rs compares them). NOT VALID: rows written before are
-- not scanned (they hold the same names).
ALTER TABLE appointments ADD CONSTRAINT appointments_cancelled_by_check
    CHECK (cancelled_by IN ('trainer', 'physio', 'clinic_admin', 'system')) NOT VALID;
