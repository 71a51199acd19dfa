//! Distances on the earth's surface: a clinic takes referrals only from
//! trainers within its service radius (docs/architecture.md, "Booking rules").

/// A point in WGS84 degrees, as clinics and trainers give it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

/// Mean earth radius (IUGG). Treating the earth as a sphere is off by at most
/// about 0.5%, far finer than anyone draws a service radius.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Great-circle distance (haversine), in kilometres.
pub fn distance_km(a: Location, b: Location) -> f64 {
    let (lat_a, lat_b) = (a.lat.to_radians(), b.lat.to_radians());
    let half_dlat = (lat_b - lat_a) / 2.0;
    let half_dlon = (b.lon - a.lon).to_radians() / 2.0;
    let h = half_dlat.sin().powi(2) + lat_a.cos() * lat_b.cos() * half_dlon.sin().powi(2);
    // Rounding can push h a hair above 1 for antipodal points; asin would give NaN.
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONDON: Location = Location {
        lat: 51.5074,
        lon: -0.1278,
    };
    const PARIS: Location = Location {
        lat: 48.8566,
        lon: 2.3522,
    };

    #[test]
    fn london_to_paris() {
        let d = distance_km(LONDON, PARIS);
        assert!((d - 343.5).abs() < 1.0, "{d}");
        assert!((distance_km(PARIS, LONDON) - d).abs() < 1e-9);
    }

    #[test]
    fn same_point_is_zero() {
        assert_eq!(distance_km(LONDON, LONDON), 0.0);
    }

    #[test]
    fn across_the_antimeridian_and_to_the_antipode() {
        let west = Location {
            lat: 0.0,
            lon: 179.5,
        };
        let east = Location {
            lat: 0.0,
            lon: -179.5,
        };
        assert!((distance_km(west, east) - 111.19).abs() < 0.1);

        let antipode = Location {
            lat: -LONDON.lat,
            lon: LONDON.lon + 180.0,
        };
        let half_circumference = std::f64::consts::PI * EARTH_RADIUS_KM;
        assert!((distance_km(LONDON, antipode) - half_circumference).abs() < 1e-6);
    }
}
