//! How long the messaging tables keep bookkeeping rows. See
//! `spotter_db::retention`.

use spotter_db::retention::Rule;
use std::time::Duration;

const DAY: u64 = 24 * 3600;

/// A consumer's dedupe record. It must outlive any redelivery of the same
/// message: the broker's retries take minutes, and a message can wait in its
/// queue while a service is down; thirty days is far beyond either. (A
/// replayed dead letter never needs it: it was parked, so never recorded.)
pub const INBOX: Rule = Rule {
    table: "inbox",
    timestamp: "processed_at",
    keep: Duration::from_secs(30 * DAY),
    only_when: None,
};

/// A dead letter an operator has replayed, kept thirty days for the record.
/// One never replayed stays: it is the operator's open worklist.
pub const REPLAYED_DEAD_LETTERS: Rule = Rule {
    table: "dead_letters",
    timestamp: "replayed_at",
    keep: Duration::from_secs(30 * DAY),
    only_when: None,
};

/// An outbox row the broker has confirmed, kept seven days so that what a
/// service published can be sent again after a restore or a lost broker
/// (docs/runbook.md, "Making replay safe"). Pending rows (no `published_at`)
/// are never touched. Deleted through the `outbox_published` index.
pub const PUBLISHED_OUTBOX: Rule = Rule {
    table: "outbox",
    timestamp: "published_at",
    keep: Duration::from_secs(7 * DAY),
    only_when: None,
};
