//! What a physio treats: the body regions of an injury report, or anything.

/// Shared vocabulary: the app reads it at `GET /v1/vocabulary`.
pub use spotter_platform::vocabulary::Specialty;

#[cfg(test)]
mod tests {
    use super::Specialty;
    use spotter_platform::vocabulary::BodyRegion;

    #[test]
    fn every_body_region_is_a_specialty_and_general_is_the_only_other() {
        for region in BodyRegion::ALL {
            let specialty = region.as_str().parse::<Specialty>();
            assert_eq!(specialty.map(Specialty::as_str), Ok(region.as_str()));
        }
        assert_eq!(Specialty::ALL.len(), BodyRegion::ALL.len() + 1);
    }
}
