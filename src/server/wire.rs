//! The fixed lines the server writes on its own account: INFO on connect, PING, PONG, +OK and
//! -ERR. Client input is read by the core's codec ([`crate::core::proto::ClientParser`]); messages
//! to clients by the core's [`crate::core::proto::encode_msg_view`] (see `outbox.rs`).

/// The `INFO` line sent on connect.
pub fn info_line(info: &serde_json::Value) -> Vec<u8> {
    let mut line = b"INFO ".to_vec();
    line.extend_from_slice(info.to_string().as_bytes());
    line.extend_from_slice(b"\r\n");
    line
}

/// `PING`.
pub const PING: &[u8] = b"PING\r\n";
/// `PONG`.
pub const PONG: &[u8] = b"PONG\r\n";
/// `+OK` (verbose mode).
pub const OK: &[u8] = b"+OK\r\n";

/// An `-ERR '<text>'` line.
pub fn err_line(text: &str) -> Vec<u8> {
    format!("-ERR '{text}'\r\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_crlf_terminated_nats_ops() {
        assert_eq!(
            err_line("Authorization Violation"),
            b"-ERR 'Authorization Violation'\r\n"
        );
        assert_eq!(
            info_line(&serde_json::json!({"port": 4222})),
            b"INFO {\"port\":4222}\r\n"
        );
    }
}
