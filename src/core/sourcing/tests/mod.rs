//! Tests of mirrors and sources.
mod config_tests;
mod durable_origin_tests;
mod early_tests;
mod hand;
mod link_cuts;
mod mirror_tests;
mod origin;
mod source_tests;
mod wire_tests;
