CREATE INDEX clinics_service_area ON clinics
    USING gist (earth_box(ll_to_earth(lat, lon), service_radius_km * 1010.0))
    WHERE accepts_referrals;
DROP INDEX clinics_service_box;
ALTER TABLE clinics DROP COLUMN service_box;
