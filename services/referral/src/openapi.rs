use spotter_platform::openapi::BearerAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Spotter referral service", version = "1"),
    paths(crate::trainers::get_me, crate::trainers::put_me),
    components(schemas(spotter_platform::problem::Problem, spotter_platform::FieldError)),
    modifiers(&BearerAuth),
    tags((name = "trainers", description = "A trainer's own profile"))
)]
struct ReferralApi;

pub fn document() -> utoipa::openapi::OpenApi {
    ReferralApi::openapi()
}
