//! The conformance suite every [`super::StreamStore`] passes (filled in by the store work item).
