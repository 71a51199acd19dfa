DROP INDEX CONCURRENTLY IF EXISTS appointments_booked_diary;
