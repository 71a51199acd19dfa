DROP INDEX dead_letters_replayed;
DROP INDEX inbox_by_age;
