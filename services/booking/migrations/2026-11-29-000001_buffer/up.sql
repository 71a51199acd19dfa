-- The clinic's buffer after each appointment, held by the database like the
-- appointment itself: a physio's booked [starts_at, blocked_until) ranges
-- never overlap, so two racing bookings cannot land closer together than the
-- buffer (slot generation keeps it, but only the constraint is race-proof).
-- blocked_until is ends_at + the clinic's buffer when booked or moved.
ALTER TABLE appointments ADD COLUMN blocked_until TIMESTAMPTZ;
-- Existing rows keep what they were booked under: no buffer.
UPDATE appointments SET blocked_until = ends_at;
ALTER TABLE appointments ALTER COLUMN blocked_until SET NOT NULL;
ALTER TABLE appointments ADD CONSTRAINT blocked_from_the_end CHECK (blocked_until >= ends_at);
ALTER TABLE appointments DROP CONSTRAINT appointments_physio_id_tstzrange_excl;
ALTER TABLE appointments ADD CONSTRAINT no_overlap_with_buffer
    EXCLUDE USING gist (physio_id WITH =, tstzrange(starts_at, blocked_until, '[)') WITH &&)
    WHERE (status = 'booked');
