//! The origin of an uploaded message: who wrote it, in which local stream, at which sequence.
//!
//! An upload sends `Nats-Msg-Id: <origin>:<stream>:<seq>` (nats-server deduplicates on it within
//! the stream's `duplicate_window`) and the same value in `Contrail-Origin-Seq`. A Contrail
//! server reads the second header to keep, per origin and local stream, the highest local
//! sequence it stored, and answers any repeat at or below it as a duplicate, however long after.
//! A separate header (rather than reading every `Nats-Msg-Id` of that shape) means a client's
//! own message ids never change meaning; nats-server stores the header like any other.
//! `Contrail-Origin-Prev` names the upload's previous local sequence, so the server can refuse
//! a publish that would overtake a refused one (see `core::stream::origins`).

/// The header a Contrail server keeps high-water marks by.
pub const ORIGIN_SEQ_HEADER: &str = "Contrail-Origin-Seq";

/// The local sequence uploaded just before this one, on every publish but the first after the
/// uploader (re)started from its cursor: a Contrail server refuses a publish whose predecessor
/// it has not stored, so a refused publish is never overtaken (see `core::stream::origins`).
pub const ORIGIN_PREV_HEADER: &str = "Contrail-Origin-Prev";

/// A parsed `<origin>:<stream>:<seq>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginSeq<'a> {
    /// `<origin>:<stream>`: whose sequence numbers these are.
    pub source: &'a str,
    /// The message's sequence in its local stream.
    pub seq: u64,
}

/// The value an upload sends for local stream `stream`'s message `seq`.
pub fn format(origin: &str, stream: &str, seq: u64) -> String {
    format!("{origin}:{stream}:{seq}")
}

/// Reads `<origin>:<stream>:<seq>`; `None` unless the sequence is a positive number and both
/// names are present.
pub fn parse(value: &str) -> Option<OriginSeq<'_>> {
    let (source, seq) = value.rsplit_once(':')?;
    let (origin, stream) = source.split_once(':')?;
    if origin.is_empty() || stream.is_empty() {
        return None;
    }
    let seq: u64 = seq.parse().ok()?;
    (seq > 0).then_some(OriginSeq { source, seq })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let value = format("a1b2", "ORDERS", 42);
        assert_eq!(
            parse(&value),
            Some(OriginSeq {
                source: "a1b2:ORDERS",
                seq: 42
            })
        );
        for bad in ["", "a:b", "a:b:0", ":b:1", "a::1", "a:b:x", "a:b:-1"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
