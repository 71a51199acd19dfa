//! Structured logs: JSON lines by default so that the log pipeline can index them.
//! Request spans (with a request id) come from `tracing-actix-web` in `http.rs`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::settings::LogSettings;

/// Libraries whose debug and trace output carries what passes through them:
/// tokio-postgres logs every statement's parameters (injury text, guidance,
/// contact details, as bytes), the AMQP and HTTP stacks their frames and
/// headers (tokens). Whatever level is asked for, they log at `info` at most,
/// so health detail and credentials never reach the logs.
const PAYLOAD_LOGGERS: [&str; 7] = [
    "tokio_postgres=info",
    "lapin=info",
    "amq_protocol=info",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "reqwest=info",
];

/// Installs the global subscriber once; later calls (tests, the dev stack
/// starting three services) are no-ops.
pub fn init(settings: &LogSettings) {
    let mut filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    for quiet in PAYLOAD_LOGGERS {
        // Static directives: they parse.
        if let Ok(directive) = quiet.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_writer(std::io::stderr);
    let _already_set = if settings.format == "pretty" {
        builder.compact().try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    };
}
