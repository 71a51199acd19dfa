//! Guards wire compatibility of `proto/` against the checked-in snapshot
//! `proto/descriptor_snapshot.binpb` (rules in `support/compat.rs`).
//!
//! After an intentional, compatible change (a new field, message, enum value
//! or reservation), refresh the snapshot and commit it with the change:
//!
//! ```text
//! SPOTTER_UPDATE_PROTO_SNAPSHOT=1 cargo test -p spotter-contracts --test contracts compatibility
//! ```
//!
//! The update still checks against the old snapshot first and refuses to
//! write when anything is incompatible.

// Helpers outside #[test] fns panic on purpose too: a panic is a failed test.
#[path = "support/compat.rs"]
mod compat;

use std::path::PathBuf;

use prost::Message;
use prost_types::FileDescriptorSet;

const UPDATE_ENV: &str = "SPOTTER_UPDATE_PROTO_SNAPSHOT";

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto/descriptor_snapshot.binpb")
}

/// Our files only: the well-known types are Google's to evolve, and leaving
/// them out keeps the snapshot diff about our contracts.
fn current() -> FileDescriptorSet {
    let mut set = FileDescriptorSet::decode(spotter_contracts::file_descriptor_set_bytes())
        .expect("build.rs writes a valid descriptor set");
    set.file.retain(|f| !f.name().starts_with("google/"));
    for file in &mut set.file {
        file.source_code_info = None;
    }
    set
}

fn snapshot() -> Option<FileDescriptorSet> {
    let bytes = std::fs::read(snapshot_path()).ok()?;
    Some(FileDescriptorSet::decode(bytes.as_slice()).expect("snapshot is a FileDescriptorSet"))
}

fn update_requested() -> bool {
    std::env::var_os(UPDATE_ENV).is_some_and(|v| v == "1")
}

fn write_snapshot(set: &FileDescriptorSet) {
    // Write then rename, so the other test never reads half a file.
    let path = snapshot_path();
    let tmp = path.with_extension("binpb.tmp");
    std::fs::write(&tmp, set.encode_to_vec()).expect("write snapshot");
    std::fs::rename(&tmp, &path).expect("replace snapshot");
}

fn how_to_update() -> String {
    format!(
        "if the change is intentional and compatible, run \
         `{UPDATE_ENV}=1 cargo test -p spotter-contracts --test contracts compatibility` \
         and commit proto/descriptor_snapshot.binpb"
    )
}

#[test]
fn current_protos_are_compatible_with_the_snapshot() {
    let Some(snapshot) = snapshot() else {
        // The other test reports (or, when asked, creates) the missing file.
        return;
    };
    let violations = compat::violations(&snapshot, &current());
    assert!(
        violations.is_empty(),
        "proto changes break consumers of already published events:\n  {}\n\
         Keep field numbers, types and names; to remove a field, reserve its \
         number and name. See proto/README.md.",
        violations.join("\n  ")
    );
}

// Without this the guard would decay: anything added after the last snapshot
// could later be changed or dropped unnoticed.
#[test]
fn snapshot_is_up_to_date() {
    let current = current();
    let Some(snapshot) = snapshot() else {
        if update_requested() {
            write_snapshot(&current);
            return;
        }
        panic!(
            "{} is missing; {}",
            snapshot_path().display(),
            how_to_update()
        );
    };
    let violations = compat::violations(&snapshot, &current);
    if !violations.is_empty() {
        panic!(
            "refusing to update the snapshot: incompatible changes:\n  {}",
            violations.join("\n  ")
        );
    }
    if snapshot == current {
        return;
    }
    if update_requested() {
        write_snapshot(&current);
    } else {
        panic!(
            "proto/ changed compatibly but the snapshot is stale; {}",
            how_to_update()
        );
    }
}
