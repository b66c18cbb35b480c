//! Tests of mirrors and sources.
mod config_tests;
