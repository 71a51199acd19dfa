ALTER TABLE appointments DROP CONSTRAINT no_overlap_with_buffer;
ALTER TABLE appointments ADD CONSTRAINT appointments_physio_id_tstzrange_excl
    EXCLUDE USING gist (physio_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
    WHERE (status = 'booked');
ALTER TABLE appointments DROP CONSTRAINT blocked_from_the_end;
ALTER TABLE appointments DROP COLUMN blocked_until;
