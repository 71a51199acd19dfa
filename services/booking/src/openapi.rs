use crate::admin::{clinics, hours, physios, policy, refusals, schedule, time_off, worklist};
use crate::appointments::{actions, api, bring_forward, decline};
use spotter_platform::openapi::BearerAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "Spotter booking service", version = "1"),
    paths(
        clinics::create,
        clinics::get,
        clinics::update,
        policy::put,
        physios::add,
        physios::list,
        physios::update,
        hours::put,
        time_off::add,
        time_off::remove,
        schedule::appointments,
        schedule::waitlist,
        refusals::summary,
        worklist::list,
        worklist::release,
        api::list_mine,
        api::get,
        actions::complete,
        actions::no_show,
        actions::cancel_by_clinic,
        decline::decline,
        actions::reschedule,
        bring_forward::bring_forward,
    ),
    components(schemas(spotter_platform::problem::Problem, spotter_platform::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "clinics", description = "Clinics, their booking policy, diary and waitlist"),
        (name = "physios", description = "Physios, their weekly hours and time off"),
        (name = "appointments", description = "Appointments: the physio's diary and its changes"),
        (name = "worklist", description = "Platform admins: referrals clinics refused too often to book by themselves"),
    )
)]
struct BookingApi;

pub fn document() -> utoipa::openapi::OpenApi {
    BookingApi::openapi()
}
