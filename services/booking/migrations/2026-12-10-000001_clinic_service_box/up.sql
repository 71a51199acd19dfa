-- The clinic search (docs/architecture.md, "Booking") compares each clinic's
-- service-area box with the trainer's point. Computed per row, the box cost
-- two calls of earthdistance functions that cannot be inlined (their
-- search_path is pinned), about as much as all the rest of the search
-- wherever the planner chose to scan the few clinics of a small network.
-- Stored, the box is computed once per change of a clinic, and the index is
-- built on the column itself. Adding a stored column rewrites `clinics`
-- under a brief exclusive lock: one row per clinic.
ALTER TABLE clinics ADD COLUMN service_box cube
    GENERATED ALWAYS AS (earth_box(ll_to_earth(lat, lon), service_radius_km * 1010.0)) STORED;

CREATE INDEX clinics_service_box ON clinics USING gist (service_box) WHERE accepts_referrals;

-- clinics_service_area stays for one release: replicas of the previous
-- release search through it during a rolling upgrade (without it, they
-- would compute every clinic's box on every booking). A later release drops
-- it (docs/runbook.md, "Zero-downtime migrations").
