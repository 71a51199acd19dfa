use spotter_platform::openapi::BearerAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Spotter notification service", version = "1"),
    paths(crate::inbox::list),
    components(schemas(spotter_platform::problem::Problem, spotter_platform::FieldError)),
    modifiers(&BearerAuth),
    tags((name = "notifications", description = "The in-app inbox"))
)]
struct NotificationApi;

pub fn document() -> utoipa::openapi::OpenApi {
    NotificationApi::openapi()
}
