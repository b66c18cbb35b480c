//! Conversions between the JavaScript side and the core's link types: the options object to a
//! [`LinkConfig`], link events to plain objects, refused calls to `Error`s with a `kind`.

use bytes::Bytes;
use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use super::{get_random_values, ms_to_nanos};
use crate::core::link::{
    Auth, Backoff, DisconnectReason, LinkConfig, LinkError, LinkEvent, LinkState, RequestError,
};
use crate::core::message::Message;

/// The link's config from the JavaScript options object (absent fields keep the defaults).
pub(super) fn config_from(options: &JsValue) -> LinkConfig {
    let text = |key: &str| {
        Reflect::get(options, &key.into())
            .ok()
            .and_then(|v| v.as_string())
    };
    let number = |key: &str| {
        Reflect::get(options, &key.into())
            .ok()
            .and_then(|v| v.as_f64())
            .filter(|n| n.is_finite() && *n >= 0.0)
    };
    let mut config = LinkConfig::default();
    if let Some(name) = text("name") {
        config.name = name;
    }
    config.auth = match (text("token"), text("user"), text("pass")) {
        (Some(token), _, _) => Auth::Token(token),
        (None, Some(user), pass) => Auth::UserPassword {
            user,
            pass: pass.unwrap_or_default(),
        },
        _ => Auth::None,
    };
    if let Some(ms) = number("pingInterval") {
        config.ping_interval = ms_to_nanos(ms.max(1.0));
    }
    if let Some(n) = number("maxPingOut") {
        config.max_pings_out = n as u32;
    }
    if let Some(ms) = number("timeout") {
        config.connect_timeout = ms_to_nanos(ms.max(1.0));
    }
    let defaults = Backoff::default();
    config.backoff = Backoff {
        min: number("reconnectTimeWait").map_or(defaults.min, ms_to_nanos),
        max: number("reconnectTimeWaitMax").map_or(defaults.max, ms_to_nanos),
        jitter: number("reconnectJitter").map_or(defaults.jitter, ms_to_nanos),
    };
    if let Some(n) = number("maxPendingBytes") {
        config.max_pending_bytes = n as usize;
    }
    let mut seed = [0u8; 8];
    get_random_values(&mut seed);
    config.seed = u64::from_le_bytes(seed) | 1;
    config
}

pub(super) fn message(
    subject: String,
    payload: &[u8],
    reply: Option<String>,
    headers: Option<Vec<u8>>,
) -> Message {
    Message {
        subject,
        reply,
        headers: headers.filter(|h| !h.is_empty()).map(Bytes::from),
        payload: Bytes::copy_from_slice(payload),
    }
}

pub(super) fn state_name(state: LinkState) -> &'static str {
    match state {
        LinkState::Connected => "connected",
        LinkState::Connecting => "connecting",
        LinkState::Waiting { .. } => "waiting",
        LinkState::Stopped => "stopped",
    }
}

/// A refused call as a JavaScript `Error` with a `kind` the JavaScript side maps to its error
/// classes (`NotConnected`, `BufferFull`, `MaxPayload`, ...).
pub(super) fn link_error(err: LinkError) -> JsValue {
    let kind = match &err {
        LinkError::NotConnected => "NotConnected",
        LinkError::BufferFull { .. } => "BufferFull",
        LinkError::MaxPayload { .. } => "MaxPayload",
        LinkError::InvalidSubject(_) => "InvalidSubject",
        LinkError::UnknownSubscription(_) => "UnknownSubscription",
        LinkError::TooManyRequests(_) => "TooManyRequests",
        LinkError::Authorization(_) => "Authorization",
        LinkError::Server(_) => "Server",
        LinkError::Signature(_) => "Signature",
        LinkError::Stopped => "Stopped",
    };
    let error: JsValue = js_sys::Error::new(&err.to_string()).into();
    let _ = Reflect::set(&error, &"kind".into(), &kind.into());
    error
}

/// A plain object `{type, ...fields}`.
pub(super) fn event(kind: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    let _ = Reflect::set(&object, &"type".into(), &kind.into());
    for (key, value) in fields {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

fn message_fields(msg: Message) -> Vec<(&'static str, JsValue)> {
    vec![
        ("subject", msg.subject.into()),
        ("reply", msg.reply.map_or(JsValue::UNDEFINED, JsValue::from)),
        (
            "headers",
            msg.headers
                .map_or(JsValue::UNDEFINED, |h| Uint8Array::from(&h[..]).into()),
        ),
        ("data", Uint8Array::from(&msg.payload[..]).into()),
    ]
}

pub(super) fn to_js(ev: LinkEvent) -> JsValue {
    match ev {
        LinkEvent::Connected(info) => event(
            "connected",
            &[(
                "info",
                serde_json::to_string(&*info).unwrap_or_default().into(),
            )],
        ),
        LinkEvent::Disconnected(reason) => {
            event("disconnected", &[("reason", reason.to_string().into())])
        }
        LinkEvent::Message { sid, msg } => {
            let mut fields = message_fields(msg);
            fields.push(("sid", (sid as f64).into()));
            event("message", &fields)
        }
        LinkEvent::Reply { id, msg } => {
            let mut fields = message_fields(msg);
            fields.push(("id", (id as f64).into()));
            event("reply", &fields)
        }
        LinkEvent::RequestFailed { id, error } => {
            let kind = match error {
                RequestError::TimedOut => "timeout",
                RequestError::NoResponders => "noResponders",
                RequestError::Disconnected => "disconnected",
            };
            event(
                "requestFailed",
                &[
                    ("id", (id as f64).into()),
                    ("error", kind.into()),
                    ("message", error.to_string().into()),
                ],
            )
        }
        LinkEvent::Error(err) => {
            let kind = match &err {
                LinkError::Authorization(_) => "authorization",
                LinkError::Signature(_) => "signature",
                _ => "server",
            };
            event(
                "error",
                &[("kind", kind.into()), ("message", err.to_string().into())],
            )
        }
        LinkEvent::Stopped(reason) => {
            let auth = matches!(reason, DisconnectReason::Authorization(_));
            event(
                "stopped",
                &[
                    ("reason", reason.to_string().into()),
                    ("authorization", auth.into()),
                ],
            )
        }
    }
}

/// What a thrown JavaScript value says.
pub(super) fn js_text(value: &JsValue) -> String {
    if let Some(err) = value.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}
