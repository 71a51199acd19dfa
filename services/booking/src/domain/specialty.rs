//! What a physio treats: the body regions of an injury report, or anything.

spotter_platform::coded! {
    /// A body region the physio treats, or `general`: any region.
    pub enum Specialty {
        General = "general",
        Neck = "neck",
        Shoulder = "shoulder",
        Elbow = "elbow",
        WristHand = "wrist_hand",
        UpperBack = "upper_back",
        LowerBack = "lower_back",
        Hip = "hip",
        Knee = "knee",
        AnkleFoot = "ankle_foot",
        Other = "other",
    }
}

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
