//! Each coded value is declared once in Rust; the database's CHECK on the
//! column that stores it must allow exactly the same names.

use notification_service::devices::Platform;
use notification_service::notices::NoticeKind;
use spotter_db::testing::TestDatabase;
use spotter_service::testing::migration_dirs;

#[tokio::test]
async fn every_coded_column_allows_exactly_its_enum() {
    let db = TestDatabase::create("notification", &migration_dirs("notification"))
        .await
        .unwrap();
    let platforms = Platform::ALL.iter().map(ToString::to_string).collect();
    let kinds: Vec<String> = NoticeKind::ALL.iter().map(ToString::to_string).collect();
    db.assert_checks_allow(&[
        ("devices", "platform", platforms),
        ("notifications", "kind", kinds.clone()),
        ("notification_preferences", "kind", kinds),
    ])
    .await;
}
