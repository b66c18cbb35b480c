//! The `$JS.API` layer: a request (subject + JSON) in, nats-server's exact reply out.
//!
//! [`dispatch`] reads the subject ([`route`]), decodes the JSON body, calls the engine's typed
//! method, and queues the reply on the request's reply subject with the
//! `io.nats.jetstream.api.v1.<op>_response` type. Failures reply
//! `{"type":…,"error":{"code":…,"err_code":…,"description":…}}`. Pull requests and direct gets
//! answer with messages rather than JSON.

mod account;
mod consumers;
mod messages;
pub mod route;
mod streams;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::core::engine::Engine;
use crate::core::error::{ApiError, ErrorKind};
use crate::core::message::{Message, Outbound};
use crate::core::time::Nanos;
use route::Route;

/// Prefix of every JetStream API subject.
pub const API_PREFIX: &str = "$JS.API.";

/// Most names a NAMES reply carries (nats-server's `JSApiNamesLimit`).
pub const NAMES_LIMIT: usize = 1024;
/// Most entries a LIST reply carries (nats-server's `JSApiListLimit`).
pub const LIST_LIMIT: usize = 256;

/// Handles a request published on a `$JS.API.…` subject. `false` when no handler serves that
/// subject (the shell answers "no responders").
pub fn dispatch(engine: &mut Engine, msg: Message, now: Nanos) -> bool {
    let Some(route) = msg.subject.strip_prefix(API_PREFIX).and_then(Route::parse) else {
        return false;
    };
    engine.count_api_request();
    let (op, result) = match route {
        Route::MsgNext(stream, consumer) => {
            return messages::next(engine, &stream, &consumer, &msg, now)
        }
        Route::DirectGet {
            stream,
            last_by_subject,
        } => {
            return messages::direct_get(engine, &stream, last_by_subject, &msg);
        }
        Route::AccountInfo => ("account_info", account::info(engine)),
        Route::StreamCreate(name) => (
            "stream_create",
            streams::create(engine, &name, &msg.payload, now),
        ),
        Route::StreamUpdate(name) => (
            "stream_update",
            streams::update(engine, &name, &msg.payload, now),
        ),
        Route::StreamInfo(name) => (
            "stream_info",
            streams::info(engine, &name, &msg.payload, now),
        ),
        Route::StreamNames => ("stream_names", streams::names(engine, &msg.payload)),
        Route::StreamList => ("stream_list", streams::list(engine, &msg.payload, now)),
        Route::StreamDelete(name) => ("stream_delete", streams::delete(engine, &name)),
        Route::StreamPurge(name) => (
            "stream_purge",
            streams::purge(engine, &name, &msg.payload, now),
        ),
        Route::MsgGet(name) => ("stream_msg_get", messages::get(engine, &name, &msg.payload)),
        Route::MsgDelete(name) => (
            "stream_msg_delete",
            messages::delete(engine, &name, &msg.payload, now),
        ),
        Route::ConsumerCreate {
            stream,
            consumer,
            filter,
        } => (
            "consumer_create",
            consumers::create(
                engine,
                &stream,
                consumers::Form::New { consumer, filter },
                &msg.payload,
                now,
            ),
        ),
        Route::DurableCreate { stream, durable } => (
            "consumer_create",
            consumers::create(
                engine,
                &stream,
                consumers::Form::Durable(durable),
                &msg.payload,
                now,
            ),
        ),
        Route::ConsumerInfo(stream, name) => (
            "consumer_info",
            consumers::info(engine, &stream, &name, now),
        ),
        Route::ConsumerDelete(stream, name) => (
            "consumer_delete",
            consumers::delete(engine, &stream, &name, now),
        ),
        Route::ConsumerNames(stream) => (
            "consumer_names",
            consumers::names(engine, &stream, &msg.payload),
        ),
        Route::ConsumerList(stream) => (
            "consumer_list",
            consumers::list(engine, &stream, &msg.payload, now),
        ),
    };
    if result.is_err() {
        engine.count_api_error();
    }
    if let Some(reply) = msg.reply {
        engine.send(Outbound::to_subject(reply, None, response_body(op, result)));
    }
    true
}

/// The reply JSON: the body's fields plus `type`, or `type` and `error`.
fn response_body(op: &str, result: Result<Value, ApiError>) -> Vec<u8> {
    let mut map = match result {
        Ok(Value::Object(map)) => map,
        Ok(_) => Map::new(),
        Err(error) => {
            let mut map = Map::new();
            map.insert(
                "error".into(),
                serde_json::to_value(error).unwrap_or(Value::Null),
            );
            map
        }
    };
    map.insert(
        "type".into(),
        Value::String(format!("io.nats.jetstream.api.v1.{op}_response")),
    );
    serde_json::to_vec(&Value::Object(map)).unwrap_or_default()
}

/// Decodes an optional request body: empty or `null` (async-nats sends it) means the type's
/// default.
fn optional_body<T: DeserializeOwned + Default>(payload: &[u8]) -> Result<T, ApiError> {
    if payload.trim_ascii().is_empty() || payload.trim_ascii() == b"null" {
        return Ok(T::default());
    }
    required_body(payload)
}

/// Decodes a required request body.
fn required_body<T: DeserializeOwned>(payload: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(payload).map_err(|e| ApiError::with_detail(ErrorKind::InvalidJSON, e))
}

/// Serializes a typed reply into a JSON object to which `type` is added.
fn to_object(value: impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::with_detail(ErrorKind::StreamGeneralError, e))
}

/// A paging request: `{"offset": n}` plus an optional subject filter.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
struct PagedRequest {
    offset: usize,
    subject: Option<String>,
}

/// The page of `items` starting at `offset`, at most `limit` long, and the clamped offset.
fn page<T>(items: Vec<T>, offset: usize, limit: usize) -> (usize, Vec<T>) {
    let offset = offset.min(items.len());
    (offset, items.into_iter().skip(offset).take(limit).collect())
}
