-- Booking reads only what can match (docs/architecture.md, "Booking").
-- earthdistance (on cube) gives each clinic's service area a bounding box in
-- 3-D space, so a GiST index answers "which areas may cover this point" for
-- any place on earth, poles and the antimeridian included. The box is 1%
-- wider than the radius (earthdistance's sphere is 0.11% larger than the
-- haversine's); the service then checks the exact great-circle distance.
CREATE EXTENSION IF NOT EXISTS cube;
CREATE EXTENSION IF NOT EXISTS earthdistance;

-- earthdistance 1.1 (PostgreSQL 15) writes ll_to_earth and earth_box as SQL
-- functions calling cube() and earth() unqualified; where the search_path is
-- empty (autovacuum's ANALYZE, pg_restore) the indexes below would fail to
-- evaluate. Pinning their search_path keeps them working everywhere. Where an
-- administrator prepared the database (services/booking/database-admin.sql,
-- for a service role that may not alter these functions) it is done already.
DO $$
DECLARE s text;
BEGIN
    SELECT n.nspname INTO s FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE e.extname = 'earthdistance';
    IF EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = s AND p.proname = 'll_to_earth'
                  AND p.proconfig IS NOT NULL) THEN
        RETURN;
    END IF;
    EXECUTE format('ALTER FUNCTION %I.ll_to_earth(float8, float8) SET search_path = %I, pg_catalog', s, s);
    EXECUTE format('ALTER FUNCTION %I.earth_box(%I.earth, float8) SET search_path = %I, pg_catalog', s, s, s);
END $$;

CREATE INDEX clinics_service_area ON clinics
    USING gist (earth_box(ll_to_earth(lat, lon), service_radius_km * 1010.0))
    WHERE accepts_referrals;

-- Diaries are read a window at a time: booked appointments of a physio by start.
CREATE INDEX appointments_booked_by_physio ON appointments (physio_id, starts_at)
    WHERE status = 'booked';

-- The waitlist retried where capacity appeared: waiting referrals by place.
CREATE INDEX waitlist_by_place ON referral_requests
    USING gist (ll_to_earth(lat, lon))
    WHERE state = 'waitlisted';

-- Clinics whose capacity changed since the waitlist last looked: the worker
-- retries only referrals waiting within their reach (a periodic sweep still
-- retries everyone, in case a wake-up was missed).
CREATE TABLE capacity_changes (
    clinic_id UUID PRIMARY KEY REFERENCES clinics (id) ON DELETE CASCADE,
    changed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
