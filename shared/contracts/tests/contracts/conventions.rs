//! House rules of `proto/` that the compiler does not enforce, checked on the
//! compiled descriptor set.

// Helpers outside #[test] fns panic on purpose too: a panic is a failed test.
use prost::Message;
use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorSet};

/// String fields that are not ids but carry no health free text either.
const CODED_STRINGS: &[&str] = &[
    // GuidanceShared: a calendar date, `YYYY-MM-DD`.
    "review_on",
    // AppointmentBooked: an IANA time zone name, e.g. `Europe/London`.
    "clinic_timezone",
    // TrainingBehind: an ISO 8601 week, e.g. `2026-W49`.
    "week",
];

fn ours() -> FileDescriptorSet {
    let mut set = FileDescriptorSet::decode(spotter_contracts::file_descriptor_set_bytes())
        .expect("valid descriptor set");
    set.file.retain(|f| f.package().starts_with("spotter."));
    set
}

fn event_messages(set: &FileDescriptorSet) -> Vec<String> {
    set.file
        .iter()
        .filter(|f| f.name().ends_with("/events.proto"))
        .flat_map(|f| {
            f.message_type
                .iter()
                .map(move |m| format!("{}.{}", f.package(), m.name()))
        })
        .collect()
}

#[test]
fn every_message_in_an_events_file_is_an_event_and_vice_versa() {
    let mut in_protos = event_messages(&ours());
    let mut in_rust: Vec<String> = spotter_contracts::ALL_EVENTS
        .iter()
        .map(|(t, _)| (*t).to_owned())
        .collect();
    in_protos.sort();
    in_rust.sort();
    assert_eq!(
        in_protos, in_rust,
        "add new events to the events! list in lib.rs"
    );
}

#[test]
fn routing_keys_and_type_names_are_unique() {
    let mut types: Vec<_> = spotter_contracts::ALL_EVENTS
        .iter()
        .map(|(t, _)| t)
        .collect();
    let mut keys: Vec<_> = spotter_contracts::ALL_EVENTS
        .iter()
        .map(|(_, k)| k)
        .collect();
    types.sort();
    types.dedup();
    keys.sort();
    keys.dedup();
    assert_eq!(types.len(), spotter_contracts::ALL_EVENTS.len());
    assert_eq!(keys.len(), spotter_contracts::ALL_EVENTS.len());
}

#[test]
fn every_event_carries_a_string_referral_id() {
    // Correlation id and ordering key; the Event impls read it.
    for file in ours()
        .file
        .iter()
        .filter(|f| f.name().ends_with("/events.proto"))
    {
        for m in &file.message_type {
            let f = m.field.iter().find(|f| f.name() == "referral_id");
            assert!(
                f.is_some_and(|f| f.r#type() == Type::String),
                "{} lacks a string referral_id",
                m.name()
            );
        }
    }
}

// Events carry ids and coded values, never health free text (descriptions,
// notes, mechanism): a string field must be an id (`_id`, or `_ids` when
// repeated) or on CODED_STRINGS.
#[test]
fn string_fields_are_ids_or_coded() {
    fn walk(m: &DescriptorProto, bad: &mut Vec<String>) {
        for f in m.field.iter().filter(|f| f.r#type() == Type::String) {
            let is_id = f.name().ends_with("_id") || f.name().ends_with("_ids");
            if !is_id && !CODED_STRINGS.contains(&f.name()) {
                bad.push(format!("{}.{}", m.name(), f.name()));
            }
        }
        m.nested_type.iter().for_each(|n| walk(n, bad));
    }
    let mut bad = Vec::new();
    for file in ours().file {
        file.message_type.iter().for_each(|m| walk(m, &mut bad));
    }
    assert!(bad.is_empty(), "possible free text in events: {bad:?}");
}

#[test]
fn enum_zero_values_are_unspecified() {
    for file in ours().file {
        for e in &file.enum_type {
            let prefix = screaming_snake(e.name());
            let zero = e.value.iter().find(|v| v.number() == 0).map(|v| v.name());
            assert_eq!(
                zero,
                Some(format!("{prefix}_UNSPECIFIED").as_str()),
                "{}",
                e.name()
            );
            for v in &e.value {
                assert!(v.name().starts_with(&format!("{prefix}_")), "{}", v.name());
            }
        }
    }
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::new();
    for c in camel.chars() {
        if c.is_ascii_uppercase() && !out.is_empty() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
