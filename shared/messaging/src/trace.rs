//! W3C `traceparent` across the broker: a consumer continues the trace of the
//! message it handles, so events it causes carry the same trace id and the
//! whole saga of one referral can be followed in the logs.

use uuid::Uuid;

tokio::task_local! {
    static TRACE_ID: String;
}

/// A `traceparent` for a message sent now: the current trace if a consumer is
/// handling a message on this task, else a new trace.
pub fn current_traceparent() -> String {
    let trace_id = TRACE_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| new_trace_id());
    let span_id = &Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace_id}-{span_id}-01")
}

/// The trace id of a `traceparent` header, if it is well-formed.
pub fn trace_id_of(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.split('-');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("00"), Some(trace), Some(span), Some(_flags))
            if trace.len() == 32
                && span.len() == 16
                && trace.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Some(trace.to_owned())
        }
        _ => None,
    }
}

/// Runs `work` as part of the trace named by an incoming `traceparent`, or of
/// a new trace when the message carried none (or a malformed one).
pub async fn in_trace<F: Future>(traceparent: Option<&str>, work: F) -> F::Output {
    let trace_id = traceparent
        .and_then(trace_id_of)
        .unwrap_or_else(new_trace_id);
    TRACE_ID.scope(trace_id, work).await
}

fn new_trace_id() -> String {
    Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_handled_message_passes_its_trace_on() {
        let incoming = current_traceparent();
        let trace = trace_id_of(&incoming).unwrap();
        let outgoing = in_trace(Some(&incoming), async { current_traceparent() }).await;
        assert_eq!(trace_id_of(&outgoing), Some(trace.clone()));
        assert_ne!(incoming, outgoing, "a new span id");
        let fresh = in_trace(Some("garbage"), async { current_traceparent() }).await;
        assert_ne!(
            trace_id_of(&fresh),
            Some(trace),
            "a malformed header starts a new trace"
        );
        assert_eq!(trace_id_of("garbage"), None);
    }
}
