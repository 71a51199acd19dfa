use crate::webhooks::{api as webhooks, log_api as webhook_log};
use crate::{devices, inbox, preferences, stream};
use spotter_platform::openapi::BearerAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Spotter notification service", version = "1"),
    paths(
        inbox::list,
        inbox::unread_count,
        inbox::mark_read,
        stream::stream,
        devices::register,
        devices::remove,
        preferences::get,
        preferences::put,
        webhooks::create,
        webhooks::list,
        webhooks::get,
        webhooks::update,
        webhooks::delete,
        webhooks::rotate_secret,
        webhooks::test,
        webhook_log::deliveries,
        webhook_log::redeliver,
    ),
    components(schemas(spotter_platform::problem::Problem, spotter_platform::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "notifications", description = "The in-app inbox, its live stream and push preferences"),
        (name = "devices", description = "Phones that receive push"),
        (name = "webhooks", description = "A clinic's endpoints for signed events (Standard Webhooks), their delivery log and redelivery"),
    )
)]
struct NotificationApi;

pub fn document() -> utoipa::openapi::OpenApi {
    NotificationApi::openapi()
}
