-- One trigger function for every "something new: look again" wake-up; the
-- channel is the trigger's argument. NOTIFY is delivered at commit (never for
-- a rollback), and PostgreSQL folds repeats within a transaction into one.
CREATE FUNCTION spotter_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_ARGV[0], '');
    RETURN NULL;
END $$;
