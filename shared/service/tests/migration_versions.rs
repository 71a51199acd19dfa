//! Diesel records applied migrations by version alone, in one table per
//! database: two folders migrated into the same database with the same
//! version would silently skip one of them (seen: a test table never made).

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::PathBuf;

#[test]
fn every_migration_version_into_one_database_is_unique() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut databases: Vec<Vec<PathBuf>> = ["referral", "booking", "notification"]
        .iter()
        .map(|service| spotter_service::testing::migration_dirs(service))
        .collect();
    // The messaging tests' own database.
    databases.push(vec![
        root.join("shared/db/migrations"),
        root.join("shared/messaging/migrations"),
        root.join("shared/messaging/tests/migrations"),
    ]);
    for dirs in databases {
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        for dir in &dirs {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let version = name.split('_').next().unwrap().replace('-', "");
                if let Some(other) = seen.insert(version, path.clone()) {
                    panic!("{} and {} share a version", other.display(), path.display());
                }
            }
        }
    }
}
