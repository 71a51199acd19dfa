CREATE INDEX CONCURRENTLY IF NOT EXISTS appointments_booked_by_physio
    ON appointments (physio_id, starts_at) WHERE status = 'booked';
