pub mod fake_push;
pub mod receiver;
