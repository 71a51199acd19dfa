//! Wire-compatibility rules between two descriptor sets: the checked-in
//! snapshot (what producers may already have published, and what sits in
//! outboxes and dead-letter queues) and the current protos.
//!
//! Lives under `tests/support/` so Cargo does not build it as a test of its
//! own; `tests/compatibility.rs` includes it.

use std::collections::BTreeMap;

use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};

/// Every rule `current` breaks relative to `snapshot`, one readable line each.
/// Empty means compatible. Types are matched by full name, so moving a type
/// to another file of the same package is fine.
pub fn violations(snapshot: &FileDescriptorSet, current: &FileDescriptorSet) -> Vec<String> {
    let old = Index::of(snapshot);
    let new = Index::of(current);
    let mut out = Vec::new();
    for (name, old_message) in &old.messages {
        match new.messages.get(name) {
            Some(new_message) => check_message(name, old_message, new_message, &mut out),
            None => out.push(format!("{name}: message removed")),
        }
    }
    for (name, old_enum) in &old.enums {
        match new.enums.get(name) {
            Some(new_enum) => check_enum(name, old_enum, new_enum, &mut out),
            None => out.push(format!("{name}: enum removed")),
        }
    }
    out
}

/// Messages and enums by full name (`package.Outer.Inner`), nested ones too.
#[derive(Default)]
struct Index<'a> {
    messages: BTreeMap<String, &'a DescriptorProto>,
    enums: BTreeMap<String, &'a EnumDescriptorProto>,
}

impl<'a> Index<'a> {
    fn of(set: &'a FileDescriptorSet) -> Self {
        let mut index = Index::default();
        for file in &set.file {
            for message in &file.message_type {
                index.add_message(file.package(), message);
            }
            for e in &file.enum_type {
                index.enums.insert(join(file.package(), e.name()), e);
            }
        }
        index
    }

    fn add_message(&mut self, scope: &str, message: &'a DescriptorProto) {
        let name = join(scope, message.name());
        for nested in &message.nested_type {
            self.add_message(&name, nested);
        }
        for e in &message.enum_type {
            self.enums.insert(join(&name, e.name()), e);
        }
        self.messages.insert(name, message);
    }
}

fn join(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}

// A rename at the same number is wire-compatible for binary protobuf, but it
// fails here: the name is the contract of the JSON/text forms (dead letters
// are inspected through the descriptor set) and of every consumer's generated
// code, and a rename usually means the meaning changed, which consumers built
// against the old name would then misread silently. The compatible route is to
// reserve the old number and name and add a new field.
fn check_message(name: &str, old: &DescriptorProto, new: &DescriptorProto, out: &mut Vec<String>) {
    for f in &old.field {
        let at = format!("{name}.{} (#{})", f.name(), f.number());
        if let Some(g) = new.field.iter().find(|g| g.number() == f.number()) {
            if g.name() != f.name() {
                out.push(format!("{at}: number now used by `{}`", g.name()));
            }
            if g.r#type() != f.r#type() {
                out.push(format!(
                    "{at}: type changed from {:?} to {:?}",
                    f.r#type(),
                    g.r#type()
                ));
            }
            if g.type_name() != f.type_name() {
                out.push(format!(
                    "{at}: type changed from `{}` to `{}`",
                    f.type_name(),
                    g.type_name()
                ));
            }
            if g.label() != f.label() {
                out.push(format!(
                    "{at}: label changed from {:?} to {:?}",
                    f.label(),
                    g.label()
                ));
            }
        } else if let Some(g) = new.field.iter().find(|g| g.name() == f.name()) {
            out.push(format!("{at}: number changed to #{}", g.number()));
        } else {
            let ranges = message_ranges(new);
            let number_reserved = covers(&ranges, i64::from(f.number()), i64::from(f.number()) + 1);
            let name_reserved = new.reserved_name.iter().any(|n| n == f.name());
            if !(number_reserved && name_reserved) {
                out.push(format!(
                    "{at}: removed without reserving its number and name \
                     (add `reserved {}; reserved \"{}\";`)",
                    f.number(),
                    f.name()
                ));
            }
        }
    }
    check_reservations(name, &message_ranges(old), &message_ranges(new), out);
    check_reserved_names(name, &old.reserved_name, &new.reserved_name, out);
    // Compilers reject this, but hand-built or foreign descriptors may not.
    for g in &new.field {
        let n = i64::from(g.number());
        if covers(&message_ranges(old), n, n + 1) || old.reserved_name.iter().any(|r| r == g.name())
        {
            out.push(format!(
                "{name}.{} (#{}): reuses a reserved number or name",
                g.name(),
                n
            ));
        }
    }
}

// Same rules as fields; renaming a value fails for the same reason.
fn check_enum(
    name: &str,
    old: &EnumDescriptorProto,
    new: &EnumDescriptorProto,
    out: &mut Vec<String>,
) {
    for v in &old.value {
        let at = format!("{name}.{} (= {})", v.name(), v.number());
        let same_name = new.value.iter().find(|w| w.name() == v.name());
        if same_name.is_some_and(|w| w.number() == v.number()) {
            continue;
        }
        if let Some(w) = same_name {
            out.push(format!("{at}: number changed to {}", w.number()));
        } else if let Some(w) = new.value.iter().find(|w| w.number() == v.number()) {
            out.push(format!("{at}: number now used by `{}`", w.name()));
        } else {
            let n = i64::from(v.number());
            let number_reserved = covers(&enum_ranges(new), n, n + 1);
            let name_reserved = new.reserved_name.iter().any(|r| r == v.name());
            if !(number_reserved && name_reserved) {
                out.push(format!(
                    "{at}: removed without reserving its number and name \
                     (add `reserved {}; reserved \"{}\";`)",
                    v.number(),
                    v.name()
                ));
            }
        }
    }
    check_reservations(name, &enum_ranges(old), &enum_ranges(new), out);
    check_reserved_names(name, &old.reserved_name, &new.reserved_name, out);
}

/// Reserved numbers as half-open `[start, end)` ranges. i64 because enum
/// ranges are inclusive and may end at i32::MAX (`reserved 5 to max`).
type Ranges = Vec<(i64, i64)>;

fn message_ranges(m: &DescriptorProto) -> Ranges {
    m.reserved_range
        .iter()
        .map(|r| (i64::from(r.start()), i64::from(r.end())))
        .collect()
}

fn enum_ranges(e: &EnumDescriptorProto) -> Ranges {
    e.reserved_range
        .iter()
        .map(|r| (i64::from(r.start()), i64::from(r.end()) + 1))
        .collect()
}

/// Whether `[start, end)` lies within the union of `ranges`, however the
/// reservations were split or merged.
fn covers(ranges: &Ranges, start: i64, end: i64) -> bool {
    let mut at = start;
    while at < end {
        let reach = ranges
            .iter()
            .filter(|(s, e)| *s <= at && at < *e)
            .map(|(_, e)| *e)
            .max();
        match reach {
            Some(e) => at = e,
            None => return false,
        }
    }
    true
}

// Reservations are forever: dropping one would let a later change reuse a
// number that old messages still carry with another meaning.
fn check_reservations(name: &str, old: &Ranges, new: &Ranges, out: &mut Vec<String>) {
    for (start, end) in old {
        if !covers(new, *start, *end) {
            out.push(format!(
                "{name}: numbers {start}..{end} are no longer reserved"
            ));
        }
    }
}

fn check_reserved_names(name: &str, old: &[String], new: &[String], out: &mut Vec<String>) {
    for reserved in old.iter().filter(|r| !new.contains(r)) {
        out.push(format!("{name}: name `{reserved}` is no longer reserved"));
    }
}

#[cfg(test)]
mod tests {
    use prost_types::descriptor_proto::ReservedRange;
    use prost_types::enum_descriptor_proto::EnumReservedRange;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{EnumValueDescriptorProto, FieldDescriptorProto, FileDescriptorProto};

    use super::*;

    fn field(name: &str, number: i32, ty: Type) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            label: Some(Label::Optional.into()),
            r#type: Some(ty.into()),
            ..Default::default()
        }
    }

    fn message(fields: Vec<FieldDescriptorProto>) -> DescriptorProto {
        DescriptorProto {
            name: Some("Booked".into()),
            field: fields,
            ..Default::default()
        }
    }

    fn reserve(mut m: DescriptorProto, number: i32, name: &str) -> DescriptorProto {
        m.reserved_range.push(ReservedRange {
            start: Some(number),
            end: Some(number + 1),
        });
        m.reserved_name.push(name.into());
        m
    }

    fn set(messages: Vec<DescriptorProto>, enums: Vec<EnumDescriptorProto>) -> FileDescriptorSet {
        FileDescriptorSet {
            file: vec![FileDescriptorProto {
                name: Some("t/v1/events.proto".into()),
                package: Some("t.v1".into()),
                message_type: messages,
                enum_type: enums,
                ..Default::default()
            }],
        }
    }

    fn one(m: DescriptorProto) -> FileDescriptorSet {
        set(vec![m], vec![])
    }

    fn base() -> DescriptorProto {
        message(vec![
            field("referral_id", 1, Type::String),
            field("attempt", 2, Type::Uint32),
        ])
    }

    fn assert_one_violation(v: Vec<String>, needle: &str) {
        assert_eq!(v.len(), 1, "{v:#?}");
        assert!(v[0].contains(needle), "{v:#?}");
    }

    #[test]
    fn identical_sets_pass() {
        assert!(violations(&one(base()), &one(base())).is_empty());
    }

    #[test]
    fn type_change_fails() {
        let new = message(vec![
            field("referral_id", 1, Type::String),
            field("attempt", 2, Type::Int64),
        ]);
        assert_one_violation(
            violations(&one(base()), &one(new)),
            "t.v1.Booked.attempt (#2): type changed",
        );
    }

    #[test]
    fn message_type_name_change_fails() {
        let mut old = field("at", 3, Type::Message);
        old.type_name = Some(".google.protobuf.Timestamp".into());
        let mut new = old.clone();
        new.type_name = Some(".google.protobuf.Duration".into());
        let v = violations(&one(message(vec![old])), &one(message(vec![new])));
        assert_one_violation(v, "type changed from `.google.protobuf.Timestamp`");
    }

    #[test]
    fn label_change_fails() {
        let mut new = base();
        new.field[1].label = Some(Label::Repeated.into());
        assert_one_violation(violations(&one(base()), &one(new)), "label changed");
    }

    #[test]
    fn number_change_fails() {
        let new = message(vec![
            field("referral_id", 1, Type::String),
            field("attempt", 3, Type::Uint32),
        ]);
        assert_one_violation(violations(&one(base()), &one(new)), "number changed to #3");
    }

    #[test]
    fn removal_without_reserve_fails() {
        let new = message(vec![field("referral_id", 1, Type::String)]);
        assert_one_violation(
            violations(&one(base()), &one(new)),
            "attempt (#2): removed without reserving",
        );
    }

    #[test]
    fn removal_reserving_only_the_number_fails() {
        let mut new = message(vec![field("referral_id", 1, Type::String)]);
        new.reserved_range.push(ReservedRange {
            start: Some(2),
            end: Some(3),
        });
        assert_one_violation(
            violations(&one(base()), &one(new)),
            "removed without reserving",
        );
    }

    #[test]
    fn removal_with_reserve_passes() {
        let new = reserve(
            message(vec![field("referral_id", 1, Type::String)]),
            2,
            "attempt",
        );
        assert!(violations(&one(base()), &one(new)).is_empty());
    }

    #[test]
    fn removal_within_a_wider_reserved_range_passes() {
        let mut new = message(vec![field("referral_id", 1, Type::String)]);
        new.reserved_range.push(ReservedRange {
            start: Some(2),
            end: Some(10),
        });
        new.reserved_name.push("attempt".into());
        assert!(violations(&one(base()), &one(new)).is_empty());
    }

    #[test]
    fn renamed_field_same_number_fails() {
        // Wire-compatible, but see the note above check_message for why we refuse.
        let new = message(vec![
            field("referral_id", 1, Type::String),
            field("try_count", 2, Type::Uint32),
        ]);
        assert_one_violation(
            violations(&one(base()), &one(new)),
            "number now used by `try_count`",
        );
    }

    #[test]
    fn added_field_passes() {
        let mut new = base();
        new.field.push(field("priority", 3, Type::Enum));
        assert!(violations(&one(base()), &one(new)).is_empty());
    }

    #[test]
    fn removed_message_fails() {
        assert_one_violation(
            violations(&one(base()), &set(vec![], vec![])),
            "t.v1.Booked: message removed",
        );
    }

    #[test]
    fn dropping_a_reservation_fails() {
        let old = reserve(base(), 7, "notes");
        let v = violations(&one(old), &one(base()));
        assert_eq!(v.len(), 2, "{v:#?}");
        assert!(v[0].contains("7..8 are no longer reserved"), "{v:#?}");
        assert!(v[1].contains("`notes` is no longer reserved"), "{v:#?}");
    }

    #[test]
    fn reusing_a_reserved_number_fails() {
        let old = reserve(base(), 7, "notes");
        let mut new = base();
        new.field.push(field("comment", 7, Type::String));
        let v = violations(&one(old), &one(new));
        assert!(
            v.iter()
                .any(|l| l.contains("comment (#7): reuses a reserved")),
            "{v:#?}"
        );
    }

    fn value(name: &str, number: i32) -> EnumValueDescriptorProto {
        EnumValueDescriptorProto {
            name: Some(name.into()),
            number: Some(number),
            ..Default::default()
        }
    }

    fn priority(values: Vec<EnumValueDescriptorProto>) -> EnumDescriptorProto {
        EnumDescriptorProto {
            name: Some("Priority".into()),
            value: values,
            ..Default::default()
        }
    }

    fn old_priority() -> FileDescriptorSet {
        set(
            vec![],
            vec![priority(vec![
                value("PRIORITY_UNSPECIFIED", 0),
                value("PRIORITY_URGENT", 1),
            ])],
        )
    }

    #[test]
    fn enum_value_added_passes() {
        let new = priority(vec![
            value("PRIORITY_UNSPECIFIED", 0),
            value("PRIORITY_URGENT", 1),
            value("PRIORITY_ROUTINE", 2),
        ]);
        assert!(violations(&old_priority(), &set(vec![], vec![new])).is_empty());
    }

    #[test]
    fn enum_value_renumbered_or_renamed_fails() {
        let renumbered = priority(vec![
            value("PRIORITY_UNSPECIFIED", 0),
            value("PRIORITY_URGENT", 2),
        ]);
        assert_one_violation(
            violations(&old_priority(), &set(vec![], vec![renumbered])),
            "number changed to 2",
        );
        let renamed = priority(vec![
            value("PRIORITY_UNSPECIFIED", 0),
            value("PRIORITY_HIGH", 1),
        ]);
        assert_one_violation(
            violations(&old_priority(), &set(vec![], vec![renamed])),
            "number now used by `PRIORITY_HIGH`",
        );
    }

    #[test]
    fn enum_value_removal_needs_reserve() {
        let mut new = priority(vec![value("PRIORITY_UNSPECIFIED", 0)]);
        assert_one_violation(
            violations(&old_priority(), &set(vec![], vec![new.clone()])),
            "PRIORITY_URGENT (= 1): removed without reserving",
        );
        // Enum reserved ranges are inclusive at both ends.
        new.reserved_range.push(EnumReservedRange {
            start: Some(1),
            end: Some(1),
        });
        new.reserved_name.push("PRIORITY_URGENT".into());
        assert!(violations(&old_priority(), &set(vec![], vec![new])).is_empty());
    }

    #[test]
    fn removed_enum_fails() {
        assert_one_violation(
            violations(&old_priority(), &set(vec![], vec![])),
            "t.v1.Priority: enum removed",
        );
    }
}
