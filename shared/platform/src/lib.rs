//! What every Spotter service needs and none of them owns: configuration,
//! telemetry, the problem+json error type, request extractors, health, metrics
//! and the HTTP server that composes services.

pub mod coded;
pub mod extract;
pub mod health;
pub mod http;
pub mod metrics;
pub mod number;
pub mod openapi;
pub mod pagination;
pub mod problem;
pub mod rate_limit;
pub mod settings;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod validate;
pub mod vocabulary;

pub use extract::Json;
pub use health::{Readiness, ReadinessCheck};
pub use http::{BackgroundTask, Running, ServiceModule};
pub use metrics::Metrics;
pub use number::{Kilograms, Within};
pub use problem::{ApiError, ApiResult, FieldError, QuotaHit};
pub use settings::Settings;
pub use text::Text;
