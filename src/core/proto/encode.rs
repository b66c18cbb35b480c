//! Encoders: operations to wire bytes, exactly as nats-server and its clients write them.
//!
//! Encoding cannot fail, so the caller vouches for what it encodes: subjects, reply subjects,
//! queue groups and sids hold no whitespace (validate client input with [`super::check_sub`]
//! before echoing it anywhere). An `-ERR` text has its line breaks replaced by spaces, since the
//! peer could not read past them.

use bytes::{BufMut, BytesMut};

use super::ops::{ClientOp, ServerOp};
use crate::core::message::Message;

/// Room for a control line's fixed parts: op name, separators, two sizes, CRLF.
const LINE_SLACK: usize = 48;

/// Appends `op` as a client writes it.
pub fn encode_client(op: &ClientOp, out: &mut BytesMut) {
    match op {
        ClientOp::Connect(connect) => put_json(out, b"CONNECT ", connect.as_ref()),
        ClientOp::Pub(msg) => encode_pub(msg, out),
        ClientOp::Sub {
            subject,
            queue,
            sid,
        } => {
            out.reserve(subject.len() + queue.as_ref().map_or(0, String::len) + sid.len() + 8);
            out.put_slice(b"SUB ");
            out.put_slice(subject.as_bytes());
            if let Some(queue) = queue {
                out.put_u8(b' ');
                out.put_slice(queue.as_bytes());
            }
            out.put_u8(b' ');
            out.put_slice(sid.as_bytes());
            out.put_slice(b"\r\n");
        }
        ClientOp::Unsub { sid, max } => {
            out.reserve(sid.len() + 30);
            out.put_slice(b"UNSUB ");
            out.put_slice(sid.as_bytes());
            if let Some(max) = max {
                out.put_u8(b' ');
                put_num(out, *max);
            }
            out.put_slice(b"\r\n");
        }
        ClientOp::Ping => out.put_slice(b"PING\r\n"),
        ClientOp::Pong => out.put_slice(b"PONG\r\n"),
    }
}

/// Appends `op` as a server writes it.
pub fn encode_server(op: &ServerOp, out: &mut BytesMut) {
    match op {
        ServerOp::Info(info) => put_json(out, b"INFO ", info.as_ref()),
        ServerOp::Msg { sid, msg } => encode_msg(sid, msg, out),
        ServerOp::Ping => out.put_slice(b"PING\r\n"),
        ServerOp::Pong => out.put_slice(b"PONG\r\n"),
        ServerOp::Ok => out.put_slice(b"+OK\r\n"),
        ServerOp::Err(text) => {
            out.reserve(text.len() + 9);
            out.put_slice(b"-ERR '");
            for &b in text.as_bytes() {
                out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
            }
            out.put_slice(b"'\r\n");
        }
    }
}

/// A message's parts as a delivery shows them, borrowed: what the server's router hands every
/// matching subscription without building a [`Message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MsgView<'a> {
    /// Subject shown in MSG/HMSG.
    pub subject: &'a str,
    /// Reply subject, if any.
    pub reply: Option<&'a str>,
    /// Raw header block, if any.
    pub headers: Option<&'a [u8]>,
    /// Payload.
    pub payload: &'a [u8],
}

impl<'a> MsgView<'a> {
    /// The view of `msg`.
    pub fn of(msg: &'a Message) -> MsgView<'a> {
        MsgView {
            subject: &msg.subject,
            reply: msg.reply.as_deref(),
            headers: msg.headers.as_deref(),
            payload: &msg.payload,
        }
    }

    /// The message as an owned copy.
    pub fn to_message(&self) -> Message {
        Message {
            subject: self.subject.to_owned(),
            reply: self.reply.map(str::to_owned),
            headers: self.headers.map(bytes::Bytes::copy_from_slice),
            payload: bytes::Bytes::copy_from_slice(self.payload),
        }
    }

    /// Bytes [`encode_msg_view`] appends at most for subscription id `sid`.
    pub fn encoded_len(&self, sid: &str) -> usize {
        LINE_SLACK
            + self.subject.len()
            + sid.len()
            + self.reply.map_or(0, str::len)
            + self.headers.map_or(0, <[u8]>::len)
            + self.payload.len()
            + 2
    }
}

/// Appends `PUB`, or `HPUB` when the message has a header block (even an empty one).
pub fn encode_pub(msg: &Message, out: &mut BytesMut) {
    put_message(out, b"PUB ", b"HPUB ", None, &MsgView::of(msg));
}

/// Appends `MSG`, or `HMSG` when the message has a header block, for subscription `sid`.
pub fn encode_msg(sid: &str, msg: &Message, out: &mut BytesMut) {
    encode_msg_view(sid, &MsgView::of(msg), out);
}

/// [`encode_msg`] from borrowed parts: the server's delivery hot path (one per subscriber),
/// the only MSG/HMSG encoder there is.
pub fn encode_msg_view(sid: &str, msg: &MsgView<'_>, out: &mut BytesMut) {
    put_message(out, b"MSG ", b"HMSG ", Some(sid), msg);
}

fn put_message(
    out: &mut BytesMut,
    plain: &[u8],
    with_headers: &[u8],
    sid: Option<&str>,
    msg: &MsgView<'_>,
) {
    let hdr_len = msg.headers.map_or(0, <[u8]>::len);
    let total = hdr_len + msg.payload.len();
    out.reserve(msg.encoded_len(sid.unwrap_or_default()));
    out.put_slice(if msg.headers.is_some() {
        with_headers
    } else {
        plain
    });
    out.put_slice(msg.subject.as_bytes());
    if let Some(sid) = sid {
        out.put_u8(b' ');
        out.put_slice(sid.as_bytes());
    }
    if let Some(reply) = msg.reply {
        out.put_u8(b' ');
        out.put_slice(reply.as_bytes());
    }
    out.put_u8(b' ');
    if let Some(headers) = msg.headers {
        put_num(out, hdr_len as u64);
        out.put_u8(b' ');
        put_num(out, total as u64);
        out.put_slice(b"\r\n");
        out.put_slice(headers);
    } else {
        put_num(out, total as u64);
        out.put_slice(b"\r\n");
    }
    out.put_slice(msg.payload);
    out.put_slice(b"\r\n");
}

/// Appends `prefix`, the value as JSON, and CRLF.
fn put_json<T: serde::Serialize>(out: &mut BytesMut, prefix: &[u8], value: &T) {
    out.put_slice(prefix);
    // Serializing these plain structs cannot fail; should it ever, the peer gets an empty object
    // rather than a broken line.
    let json = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    out.put_slice(&json);
    out.put_slice(b"\r\n");
}

/// Appends `n` in decimal.
fn put_num(out: &mut BytesMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(op: ClientOp) -> BytesMut {
        let mut out = BytesMut::new();
        encode_client(&op, &mut out);
        out
    }

    #[test]
    fn pub_without_headers_is_pub() {
        let msg = Message::new("foo.bar", "hello").with_reply("_INBOX.1");
        assert_eq!(
            &client(ClientOp::Pub(msg))[..],
            b"PUB foo.bar _INBOX.1 5\r\nhello\r\n"
        );
    }

    #[test]
    fn pub_with_headers_is_hpub_with_header_and_total_sizes() {
        let msg = Message::new("foo", "hi").with_headers("NATS/1.0\r\nA: b\r\n\r\n");
        assert_eq!(
            &client(ClientOp::Pub(msg))[..],
            b"HPUB foo 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n"
        );
    }

    #[test]
    fn sub_and_unsub_lines() {
        let sub = ClientOp::Sub {
            subject: "a.>".into(),
            queue: Some("q".into()),
            sid: "7".into(),
        };
        assert_eq!(&client(sub)[..], b"SUB a.> q 7\r\n");
        let unsub = ClientOp::Unsub {
            sid: "7".into(),
            max: Some(10),
        };
        assert_eq!(&client(unsub)[..], b"UNSUB 7 10\r\n");
        let now = ClientOp::Unsub {
            sid: "7".into(),
            max: None,
        };
        assert_eq!(&client(now)[..], b"UNSUB 7\r\n");
    }

    #[test]
    fn msg_and_hmsg_carry_the_sid_before_the_reply() {
        let mut out = BytesMut::new();
        encode_msg("9", &Message::new("s", "x").with_reply("r"), &mut out);
        assert_eq!(&out[..], b"MSG s 9 r 1\r\nx\r\n");
        out.clear();
        let status = Message::new("s", "").with_headers("NATS/1.0 503\r\n\r\n");
        encode_msg("9", &status, &mut out);
        assert_eq!(&out[..], b"HMSG s 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
    }

    #[test]
    fn err_text_is_quoted_and_kept_on_one_line() {
        let mut out = BytesMut::new();
        encode_server(&ServerOp::Err("bad\r\nthing 'x'".into()), &mut out);
        assert_eq!(&out[..], b"-ERR 'bad  thing 'x''\r\n");
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        let mut out = BytesMut::new();
        put_num(&mut out, 0);
        out.put_u8(b' ');
        put_num(&mut out, u64::MAX);
        assert_eq!(&out[..], b"0 18446744073709551615");
    }
}
