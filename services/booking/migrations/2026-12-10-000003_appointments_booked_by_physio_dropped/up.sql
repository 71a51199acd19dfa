-- appointments_booked_diary (previous migration) has the same key and
-- predicate, and more: this one would only cost every booking a write.
DROP INDEX CONCURRENTLY IF EXISTS appointments_booked_by_physio;
