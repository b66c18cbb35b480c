//! Consumer tests, one file per family of rules, on a memory store with a fake clock.

mod abandoned;
mod ack_subject;
mod acks;
mod config;
mod filters;
mod flow_control_acks;
mod info;
mod lifecycle;
mod properties;
mod pull;
mod push;
mod redelivery;
mod restore;
mod start;
mod support;
