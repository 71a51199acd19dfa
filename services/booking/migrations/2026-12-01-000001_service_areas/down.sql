DROP TABLE IF EXISTS capacity_changes;
DROP INDEX IF EXISTS waitlist_by_place;
DROP INDEX IF EXISTS appointments_booked_by_physio;
DROP INDEX IF EXISTS clinics_service_area;
DROP EXTENSION IF EXISTS earthdistance;
DROP EXTENSION IF EXISTS cube;
