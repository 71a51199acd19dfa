pub mod fake_push;
