//! Webhooks to clinics' own systems (docs/webhooks.md): a clinic's admins
//! register endpoints; every broker event that concerns the clinic becomes
//! a signed Standard Webhooks message per subscribed endpoint, delivered at
//! least once with back-off for about a day.
//!
//! It lives in the notification service, not a service of its own: this
//! service already consumes every event through the inbox (so a message is
//! planned once per event), already runs a durable, leased delivery queue
//! (push), and already tells clinic admins things (an endpoint turned off).
//! A separate service would repeat all three with its own database and
//! queue for no isolation gained: a slow receiver holds up only its own
//! attempts here, on its own worker.
//!
//! `events`: which broker events become which webhook types; `endpoints`:
//! the store and planning; `signing`: the signatures; `address`: where
//! sending is allowed (retries follow `crate::retry`, as push does); `delivery`: the worker; `api` and
//! `log_api`: the admin routes.

mod address;
pub mod api;
pub mod delivery;
pub mod endpoints;
pub mod events;
pub mod log_api;
pub mod signing;
