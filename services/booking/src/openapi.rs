use spotter_platform::openapi::BearerAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Spotter booking service", version = "1"),
    paths(crate::clinics::create, crate::clinics::get),
    components(schemas(spotter_platform::problem::Problem, spotter_platform::FieldError)),
    modifiers(&BearerAuth),
    tags((name = "clinics", description = "Clinics, run by their admins"))
)]
struct BookingApi;

pub fn document() -> utoipa::openapi::OpenApi {
    BookingApi::openapi()
}
