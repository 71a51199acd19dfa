DROP INDEX dead_letters_parked;
