//! Message requests: `STREAM.MSG.GET`, `STREAM.MSG.DELETE`, `DIRECT.GET` and pull requests
//! (`CONSUMER.MSG.NEXT`).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Value};

use super::required_body;
use crate::core::consumer::PullRequest;
use crate::core::engine::Engine;
use crate::core::error::{ApiError, ErrorKind};
use crate::core::headers::{self, Headers};
use crate::core::message::{Message, Outbound};
use crate::core::store::StoredMsg;
use crate::core::stream::MsgGetRequest;
use crate::core::time::{format_rfc3339, Nanos};

pub(super) fn get(engine: &Engine, stream: &str, payload: &[u8]) -> Result<Value, ApiError> {
    let req: MsgGetRequest = required_body(payload)?;
    let msg = engine.get_msg(stream, &req)?;
    let mut message =
        json!({ "subject": msg.subject, "seq": msg.seq, "time": format_rfc3339(msg.time) });
    if let Some(map) = message.as_object_mut() {
        if let Some(hdrs) = msg.headers.as_ref().filter(|h| !h.is_empty()) {
            map.insert("hdrs".into(), Value::String(BASE64.encode(hdrs)));
        }
        if !msg.payload.is_empty() {
            map.insert("data".into(), Value::String(BASE64.encode(&msg.payload)));
        }
    }
    Ok(json!({ "message": message }))
}

/// `STREAM.MSG.DELETE` body.
#[derive(Debug, serde::Deserialize)]
struct DeleteRequest {
    seq: u64,
    #[serde(default)]
    no_erase: bool,
}

pub(super) fn delete(
    engine: &mut Engine,
    stream: &str,
    payload: &[u8],
    now: Nanos,
) -> Result<Value, ApiError> {
    let req: DeleteRequest = required_body(payload)?;
    engine.delete_msg(stream, req.seq, req.no_erase, now)?;
    Ok(json!({ "success": true }))
}

/// A direct get answers with the message itself, its headers extended with where it came from,
/// or with a status message. Streams without `allow_direct` do not serve it at all.
pub(super) fn direct_get(
    engine: &mut Engine,
    stream: &str,
    last_by_subject: Option<String>,
    msg: &Message,
) -> bool {
    let Some(allowed) = engine.stream(stream).map(|s| s.config().allow_direct) else {
        return false;
    };
    if !allowed {
        return false;
    }
    let Some(reply) = msg.reply.clone() else {
        return true;
    };
    let req = match (last_by_subject, msg.payload.is_empty()) {
        (Some(subject), _) => Ok(MsgGetRequest {
            last_by_subj: subject,
            ..Default::default()
        }),
        (None, true) => Err("Empty Request"),
        (None, false) => {
            serde_json::from_slice::<MsgGetRequest>(&msg.payload).map_err(|_| "Malformed Request")
        }
    };
    let out = match req {
        Err(text) => status(&reply, 408, text),
        Ok(req) => match engine.get_msg(stream, &req) {
            Ok(found) => direct_reply(&reply, stream, found),
            Err(e) if e.is(ErrorKind::NoMessageFound) || e.is(ErrorKind::StreamNotFound) => {
                status(&reply, 404, "Message Not Found")
            }
            Err(_) => status(&reply, 408, "Bad Request"),
        },
    };
    engine.send_reply(out);
    true
}

/// A status message (`NATS/1.0 <code> <text>`, no body) to `reply`.
pub(super) fn status(reply: &str, code: u16, text: &str) -> Outbound {
    Outbound::to_subject(
        reply,
        Some(Headers::status(code, text).encode()),
        bytes::Bytes::new(),
    )
}

fn direct_reply(reply: &str, stream: &str, found: StoredMsg) -> Outbound {
    let mut hdrs = found
        .headers
        .as_deref()
        .and_then(|h| Headers::parse(h).ok())
        .unwrap_or_default();
    hdrs.insert(headers::NATS_STREAM, stream);
    hdrs.insert(headers::NATS_SUBJECT, found.subject.as_str());
    hdrs.insert(headers::NATS_SEQUENCE, found.seq.to_string());
    hdrs.insert(headers::NATS_TIME_STAMP, format_rfc3339(found.time));
    Outbound::to_subject(reply, Some(hdrs.encode()), found.payload)
}

/// A pull request: messages go to the request's reply subject. Without a reply subject there is
/// nowhere to deliver, so the request is dropped, as nats-server drops it.
pub(super) fn next(
    engine: &mut Engine,
    stream: &str,
    consumer: &str,
    msg: &Message,
    now: Nanos,
) -> bool {
    let Some(reply) = msg.reply.as_deref() else {
        return true;
    };
    let Ok(req) = PullRequest::parse(&msg.payload) else {
        engine.send_reply(status(reply, 400, "Bad Request"));
        return true;
    };
    engine.pull(stream, consumer, req, reply, now)
}
