//! Consumer tests, one file per family of rules, on a memory store with a fake clock.

mod support;
