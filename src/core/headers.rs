//! NATS message headers: the `NATS/1.0` block carried by HPUB and HMSG.
//!
//! A header block is `NATS/1.0[ <status>[ <description>]]\r\n`, then `Name: Value\r\n` lines, then an
//! empty line. Names are matched without regard to case (clients differ in how they spell them);
//! values keep their bytes. A block that breaks these rules is a [`HeaderError`], never a panic.

use bytes::Bytes;

/// Publisher-set: deduplication id.
pub const NATS_MSG_ID: &str = "Nats-Msg-Id";
/// Publisher-set: the stream that must capture the message.
pub const NATS_EXPECTED_STREAM: &str = "Nats-Expected-Stream";
/// Publisher-set: the stream's last sequence must be this.
pub const NATS_EXPECTED_LAST_SEQUENCE: &str = "Nats-Expected-Last-Sequence";
/// Publisher-set: the last sequence on this subject must be this.
pub const NATS_EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
/// Publisher-set: the last message id in the stream must be this.
pub const NATS_EXPECTED_LAST_MSG_ID: &str = "Nats-Expected-Last-Msg-Id";
/// Publisher-set: `sub` or `all`, replacing earlier messages.
pub const NATS_ROLLUP: &str = "Nats-Rollup";
/// Server-set: stream name (direct get).
pub const NATS_STREAM: &str = "Nats-Stream";
/// Server-set: stream sequence (direct get).
pub const NATS_SEQUENCE: &str = "Nats-Sequence";
/// Server-set: message time, RFC 3339 (direct get).
pub const NATS_TIME_STAMP: &str = "Nats-Time-Stamp";
/// Server-set: message subject (direct get).
pub const NATS_SUBJECT: &str = "Nats-Subject";
/// Server-set: last sequence (direct get, republish).
pub const NATS_LAST_SEQUENCE: &str = "Nats-Last-Sequence";
/// Server-set: messages left for a pull request.
pub const NATS_PENDING_MESSAGES: &str = "Nats-Pending-Messages";
/// Server-set: bytes left for a pull request.
pub const NATS_PENDING_BYTES: &str = "Nats-Pending-Bytes";
/// Server-set: last consumer sequence (heartbeats).
pub const NATS_LAST_CONSUMER: &str = "Nats-Last-Consumer";
/// Server-set: last stream sequence (heartbeats).
pub const NATS_LAST_STREAM: &str = "Nats-Last-Stream";
/// Server-set: size of the omitted payload (headers_only consumers).
pub const NATS_MSG_SIZE: &str = "Nats-Msg-Size";
/// KV: `DEL` or `PURGE`.
pub const KV_OPERATION: &str = "KV-Operation";

const PREFIX: &[u8] = b"NATS/1.0";

/// Why a header block could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The block does not start with `NATS/1.0`.
    #[error("header block does not start with NATS/1.0")]
    MissingVersion,
    /// The status after the version line is not a three-digit number.
    #[error("invalid status code in header block")]
    InvalidStatus,
    /// A header line has no `:` separating name from value.
    #[error("header line without ':'")]
    MissingColon,
    /// The block is not valid UTF-8.
    #[error("header block is not valid UTF-8")]
    NotUtf8,
    /// The block does not end with an empty line.
    #[error("header block is not terminated by an empty line")]
    Unterminated,
}

/// A parsed header block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    status: Option<u16>,
    description: String,
    entries: Vec<(String, String)>,
}

impl Headers {
    /// An empty header block (no status).
    pub fn new() -> Self {
        Self::default()
    }

    /// A status-only block, as used for `100 Idle Heartbeat`, `404 No Messages` and the like.
    pub fn status(code: u16, description: &str) -> Self {
        Headers {
            status: Some(code),
            description: description.to_string(),
            entries: Vec::new(),
        }
    }

    /// Reads a header block. Trailing bytes after the terminating empty line are ignored.
    pub fn parse(block: &[u8]) -> Result<Headers, HeaderError> {
        let text = std::str::from_utf8(block).map_err(|_| HeaderError::NotUtf8)?;
        let end = text.find("\r\n\r\n").ok_or(HeaderError::Unterminated)?;
        let mut lines = text[..end].split("\r\n");
        let first = lines.next().ok_or(HeaderError::MissingVersion)?;
        let rest = first
            .strip_prefix("NATS/1.0")
            .ok_or(HeaderError::MissingVersion)?;
        let mut headers = Headers::new();
        let rest = rest.trim_start();
        if !rest.is_empty() {
            let (code, desc) = rest.split_once(' ').unwrap_or((rest, ""));
            if code.len() != 3 {
                return Err(HeaderError::InvalidStatus);
            }
            headers.status = Some(code.parse().map_err(|_| HeaderError::InvalidStatus)?);
            headers.description = desc.trim().to_string();
        }
        for line in lines {
            let (name, value) = line.split_once(':').ok_or(HeaderError::MissingColon)?;
            headers
                .entries
                .push((name.trim().to_string(), value.trim().to_string()));
        }
        Ok(headers)
    }

    /// The status code, if the version line carries one.
    pub fn status_code(&self) -> Option<u16> {
        self.status
    }

    /// The status description (empty when none).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The first value of `name`, compared without regard to case.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Adds a value, keeping earlier values of the same name.
    pub fn append(&mut self, name: &str, value: impl Into<String>) {
        self.entries.push((name.to_string(), value.into()));
    }

    /// Sets `name` to a single value, replacing earlier ones.
    pub fn insert(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.append(name, value);
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// True when there is neither a status nor any header.
    pub fn is_empty(&self) -> bool {
        self.status.is_none() && self.entries.is_empty()
    }

    /// All `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Writes the block in wire form, ending with the empty line.
    pub fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 32);
        out.extend_from_slice(PREFIX);
        if let Some(code) = self.status {
            out.extend_from_slice(format!(" {code}").as_bytes());
            if !self.description.is_empty() {
                out.push(b' ');
                out.extend_from_slice(self.description.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.entries {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        Bytes::from(out)
    }
}

/// Finds the first value of `name` in a raw header block without building a [`Headers`].
///
/// This is the hot-path lookup used on publish (`Nats-Msg-Id`, `Nats-Expected-*`): it allocates
/// nothing and returns `None` for a malformed block.
pub fn find_header<'a>(block: &'a [u8], name: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(block).ok()?;
    let mut lines = text.split("\r\n");
    lines.next()?.strip_prefix("NATS/1.0")?;
    for line in lines {
        if line.is_empty() {
            return None;
        }
        if let Some((n, v)) = line.split_once(':') {
            if n.trim().eq_ignore_ascii_case(name) {
                return Some(v.trim());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut h = Headers::new();
        h.append(NATS_MSG_ID, "abc");
        h.append("X-Multi", "1");
        h.append("X-Multi", "2");
        let wire = h.encode();
        assert_eq!(
            &wire[..],
            b"NATS/1.0\r\nNats-Msg-Id: abc\r\nX-Multi: 1\r\nX-Multi: 2\r\n\r\n"
        );
        let back = Headers::parse(&wire).expect("parses");
        assert_eq!(back, h);
        assert_eq!(back.get("nats-msg-id"), Some("abc"));
        assert_eq!(back.get_all("x-multi").collect::<Vec<_>>(), vec!["1", "2"]);
        assert_eq!(find_header(&wire, "NATS-MSG-ID"), Some("abc"));
    }

    #[test]
    fn status_line() {
        let h = Headers::parse(b"NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\n\r\n")
            .expect("parses");
        assert_eq!(h.status_code(), Some(408));
        assert_eq!(h.description(), "Request Timeout");
        assert_eq!(h.get(NATS_PENDING_MESSAGES), Some("3"));
        assert_eq!(
            &Headers::status(404, "No Messages").encode()[..],
            b"NATS/1.0 404 No Messages\r\n\r\n"
        );
    }

    #[test]
    fn malformed_blocks_are_errors() {
        assert_eq!(
            Headers::parse(b"HTTP/1.1\r\n\r\n"),
            Err(HeaderError::MissingVersion)
        );
        assert_eq!(
            Headers::parse(b"NATS/1.0\r\nnocolon\r\n\r\n"),
            Err(HeaderError::MissingColon)
        );
        assert_eq!(
            Headers::parse(b"NATS/1.0 4x8\r\n\r\n"),
            Err(HeaderError::InvalidStatus)
        );
        assert_eq!(
            Headers::parse(b"NATS/1.0\r\nA: b\r\n"),
            Err(HeaderError::Unterminated)
        );
        assert_eq!(Headers::parse(&[0xff, 0xfe]), Err(HeaderError::NotUtf8));
    }
}
