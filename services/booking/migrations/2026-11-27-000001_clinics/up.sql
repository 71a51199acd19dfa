-- A clinic: where its physios work, how far it takes referrals from, and
-- the zone its weekly hours are written in.
CREATE TABLE clinics (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    timezone TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon DOUBLE PRECISION NOT NULL CHECK (lon BETWEEN -180 AND 180),
    service_radius_km DOUBLE PRECISION NOT NULL CHECK (service_radius_km > 0),
    accepts_referrals BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
