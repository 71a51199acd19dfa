//! Each coded value is declared once in Rust; the database's CHECK on the
//! column that stores it must allow exactly the same names.

use referral_service::domain::lifecycle::Status;
use referral_service::domain::vocabulary::{
    BodyRegion, Clearance, ConsentMethod, Priority, RedFlag, Side,
};
use spotter_db::testing::TestDatabase;
use spotter_service::testing::migration_dirs;

fn names<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
    all.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn every_coded_column_allows_exactly_its_enum() {
    let db = TestDatabase::create("referral", &migration_dirs("referral"))
        .await
        .unwrap();
    let columns = [
        ("referrals", "status", names(Status::ALL)),
        ("referral_timeline", "status", names(Status::ALL)),
        ("referrals", "priority", names(Priority::ALL)),
        ("injury_reports", "body_region", names(BodyRegion::ALL)),
        ("injury_reports", "side", names(Side::ALL)),
        (
            "injury_reports",
            "consent_method",
            names(ConsentMethod::ALL),
        ),
        ("injury_reports", "red_flags", names(RedFlag::ALL)),
        ("guidance", "clearance", names(Clearance::ALL)),
    ];
    db.assert_checks_allow(&columns).await;
}
