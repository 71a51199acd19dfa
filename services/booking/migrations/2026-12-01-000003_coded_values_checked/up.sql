-- Every coded value is a text column whose CHECK lists the names the Rust
-- enum declares (docs/architecture.md, "HTTP conventions"); the service's
-- tests compare the two. NOT VALID: rows written before were validated by
-- the API and the consumer already, and checking them would scan the tables.
ALTER TABLE referral_requests
    ADD CONSTRAINT referral_requests_body_region_check CHECK (body_region IN (
        'neck', 'shoulder', 'elbow', 'wrist_hand', 'upper_back', 'lower_back',
        'hip', 'knee', 'ankle_foot', 'other')) NOT VALID;

ALTER TABLE appointments
    ADD CONSTRAINT appointments_priority_check CHECK (priority IN ('urgent', 'routine')) NOT VALID;

ALTER TABLE physios
    ADD CONSTRAINT physios_specialties_check CHECK (specialties <@ ARRAY[
        'general', 'neck', 'shoulder', 'elbow', 'wrist_hand', 'upper_back', 'lower_back',
        'hip', 'knee', 'ankle_foot', 'other']::text[]) NOT VALID;
