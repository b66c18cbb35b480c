//! Time as the engine sees it: integers of nanoseconds, passed in by the caller.
//!
//! The core never reads a clock. Every operation that depends on time takes `now: Nanos`, the
//! caller's wall clock in nanoseconds since the Unix epoch, and durations in configs are nanoseconds
//! too (as they are in JetStream's JSON). This keeps tests of ack_wait, backoff and max_age instant.
//!
//! `0` stands for Go's zero time: it is written as `0001-01-01T00:00:00Z`, as nats-server writes an
//! unset timestamp (for example `first_ts` of an empty stream).

use serde::{Deserialize, Deserializer, Serializer};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Nanoseconds: a Unix timestamp or a duration, depending on context.
pub type Nanos = i64;

/// One millisecond in nanoseconds.
pub const MILLIS: Nanos = 1_000_000;
/// One second in nanoseconds.
pub const SECONDS: Nanos = 1_000_000_000;

const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Formats a Unix timestamp in nanoseconds as RFC 3339 in UTC, the way nats-server writes times.
pub fn format_rfc3339(ts: Nanos) -> String {
    if ts == 0 {
        return GO_ZERO_TIME.to_string();
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| GO_ZERO_TIME.to_string())
}

/// Parses an RFC 3339 time into Unix nanoseconds; Go's zero time and times before 1970 give 0.
pub fn parse_rfc3339(text: &str) -> Result<Nanos, time::error::Parse> {
    let t = OffsetDateTime::parse(text, &Rfc3339)?;
    let ns = t.unix_timestamp_nanos();
    Ok(if ns <= 0 {
        0
    } else {
        i64::try_from(ns).unwrap_or(i64::MAX)
    })
}

/// Serde adapter for a `Nanos` timestamp written as an RFC 3339 string.
pub mod rfc3339 {
    use super::*;

    /// Writes `ts` as RFC 3339.
    pub fn serialize<S: Serializer>(ts: &Nanos, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339(*ts))
    }

    /// Reads an RFC 3339 string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Nanos, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339(&text).map_err(serde::de::Error::custom)
    }
}

/// Serde adapter for an optional `Nanos` timestamp written as an RFC 3339 string.
pub mod rfc3339_opt {
    use super::*;

    /// Writes `Some(ts)` as RFC 3339 and `None` as null (callers skip it when `None`).
    pub fn serialize<S: Serializer>(ts: &Option<Nanos>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => s.serialize_str(&format_rfc3339(*ts)),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional RFC 3339 string.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Nanos>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => parse_rfc3339(&text)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_nanoseconds() {
        let ts = 1_700_000_000_123_456_789;
        let text = format_rfc3339(ts);
        assert_eq!(text, "2023-11-14T22:13:20.123456789Z");
        assert_eq!(parse_rfc3339(&text).ok(), Some(ts));
    }

    #[test]
    fn zero_is_go_zero_time() {
        assert_eq!(format_rfc3339(0), "0001-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("0001-01-01T00:00:00Z").ok(), Some(0));
    }
}
