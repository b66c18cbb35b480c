//! Tests of mirrors and sources.
mod config_tests;
mod wire_tests;
