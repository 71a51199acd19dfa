-- Run by a database administrator in booking's database before booking,
-- connected as its own role (which owns only this database), migrates it:
-- `spotter dev --service-accounts` and deploy/docker/init-databases.sql do.
-- The owner may create btree_gist and cube (trusted extensions) but not
-- earthdistance, nor alter functions it does not own. Idempotent.
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE EXTENSION IF NOT EXISTS cube;
CREATE EXTENSION IF NOT EXISTS earthdistance;

-- The search_path pin of migration 2026-12-01-000001_service_areas (see the
-- reason there), which that migration skips once done here.
DO $$
DECLARE s text;
BEGIN
    SELECT n.nspname INTO s FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'earthdistance';
    EXECUTE format('ALTER FUNCTION %I.ll_to_earth(float8, float8) SET search_path = %I, pg_catalog', s, s);
    EXECUTE format('ALTER FUNCTION %I.earth_box(%I.earth, float8) SET search_path = %I, pg_catalog', s, s, s);
END $$;
