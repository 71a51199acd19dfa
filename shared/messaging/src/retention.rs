//! How long the messaging tables keep bookkeeping rows (the outbox prunes its
//! own published rows: `outbox::relay`). See `spotter_db::retention`.

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
