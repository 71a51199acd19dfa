//! Each coded value is declared once in Rust; the database's CHECK on the
//! column that stores it must allow exactly the same names.

use booking_service::appointments::model::Canceller;
use booking_service::domain::AppointmentStatus;
use booking_service::domain::matching::{BodyRegion, Priority};
use booking_service::domain::specialty::Specialty;
use booking_service::engine::follow_up::FollowUpState;
use booking_service::engine::refusals::DeclineReason;
use booking_service::engine::requests::RequestState;
use spotter_db::testing::TestDatabase;
use spotter_platform::vocabulary::AppointmentKind;
use spotter_service::testing::migration_dirs;

fn names<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
    all.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn every_coded_column_allows_exactly_its_enum() {
    let db = TestDatabase::create("booking", &migration_dirs("booking"))
        .await
        .unwrap();
    // Emergencies never reach booking: red flags mean urgent medical care.
    let bookable: Vec<Priority> = Priority::ALL
        .iter()
        .copied()
        .filter(|p| *p != Priority::Emergency)
        .collect();
    let columns = [
        ("appointments", "status", names(AppointmentStatus::ALL)),
        ("appointments", "priority", names(&bookable)),
        ("referral_requests", "priority", names(&bookable)),
        ("referral_requests", "body_region", names(BodyRegion::ALL)),
        ("referral_requests", "state", names(RequestState::ALL)),
        (
            "clinic_refusals",
            "decline_reason",
            names(DeclineReason::ALL),
        ),
        ("appointments", "cancelled_by", names(Canceller::ALL)),
        ("physios", "specialties", names(Specialty::ALL)),
        ("appointments", "kind", names(AppointmentKind::ALL)),
        ("follow_up_requests", "state", names(FollowUpState::ALL)),
    ];
    db.assert_checks_allow(&columns).await;
}
