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
use crate::core::headers::find_header;
use crate::core::message::{Message, Outbound};
use crate::core::time::Nanos;
use route::Route;

/// Prefix of every JetStream API subject.
pub const API_PREFIX: &str = "$JS.API.";

/// The JetStream API level reported in `api.level` and checked against a request's
/// `Nats-Required-Api-Level` header. Level 4 (nats-server 2.14) brings the mirrors' and
/// sources' durable consumers acknowledged by flow control, which a 2.14 copy asks for with
/// that header. The features of levels 2 to 4 Contrail lacks (counters, atomic and fast batch
/// publish, schedules, async persist) are refused by name when a stream asks for them.
pub const API_LEVEL: u32 = 4;
/// The header with which a request asks for at least an API level (`JSRequiredApiLevel`).
pub const REQUIRED_API_LEVEL: &str = "Nats-Required-Api-Level";

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
    // A request for a newer API than ours is refused before it does anything (nats-server's
    // `errorOnRequiredApiLevel`, in every handler): message reads with a 412 status, JSON
    // requests with 10185.
    let too_new = requires_newer_api(msg.headers.as_deref());
    match route {
        Route::MsgNext(..) | Route::DirectGet { .. } if too_new => {
            if let Some(reply) = msg.reply.as_deref() {
                engine.send(messages::status(reply, 412, "Required Api Level"));
            }
            return true;
        }
        Route::MsgNext(stream, consumer) => {
            return messages::next(engine, &stream, &consumer, &msg, now)
        }
        Route::DirectGet {
            stream,
            last_by_subject,
        } => {
            return messages::direct_get(engine, &stream, last_by_subject, &msg);
        }
        _ => {}
    }
    let op = route.op_name();
    let result = if too_new {
        Err(ApiError::new(ErrorKind::RequiredApiLevel))
    } else {
        handle_json(engine, route, &msg.payload, now)
    };
    if result.is_err() {
        engine.count_api_error();
    }
    if let Some(reply) = msg.reply {
        engine.send(Outbound::to_subject(reply, None, response_body(op, result)));
    }
    true
}

/// True when `headers` ask for a higher API level than [`API_LEVEL`] (or for one that is not
/// a number, as nats-server refuses it).
fn requires_newer_api(headers: Option<&[u8]>) -> bool {
    let level = headers.and_then(|h| find_header(h, REQUIRED_API_LEVEL));
    let Some(level) = level.filter(|l| !l.is_empty()) else {
        return false;
    };
    // Read as Go's `strconv.Atoi` reads it (a sign is allowed).
    level
        .parse::<i64>()
        .map_or(true, |level| level > i64::from(API_LEVEL))
}

/// Runs a request that answers JSON.
fn handle_json(
    engine: &mut Engine,
    route: Route,
    payload: &[u8],
    now: Nanos,
) -> Result<Value, ApiError> {
    match route {
        // Answered with messages by `dispatch`.
        Route::MsgNext(..) | Route::DirectGet { .. } => Err(ErrorKind::BadRequest.into()),
        Route::AccountInfo => account::info(engine),
        Route::StreamCreate(name) => streams::create(engine, &name, payload, now),
        Route::StreamUpdate(name) => streams::update(engine, &name, payload, now),
        Route::StreamInfo(name) => streams::info(engine, &name, payload, now),
        Route::StreamNames => streams::names(engine, payload),
        Route::StreamList => streams::list(engine, payload, now),
        Route::StreamDelete(name) => streams::delete(engine, &name),
        Route::StreamPurge(name) => streams::purge(engine, &name, payload, now),
        Route::MsgGet(name) => messages::get(engine, &name, payload),
        Route::MsgDelete(name) => messages::delete(engine, &name, payload, now),
        Route::ConsumerCreate {
            stream,
            consumer,
            filter,
        } => consumers::create(
            engine,
            &stream,
            consumers::Form::New { consumer, filter },
            payload,
            now,
        ),
        Route::DurableCreate { stream, durable } => consumers::create(
            engine,
            &stream,
            consumers::Form::Durable(durable),
            payload,
            now,
        ),
        Route::ConsumerInfo(stream, name) => consumers::info(engine, &stream, &name, now),
        Route::ConsumerDelete(stream, name) => consumers::delete(engine, &stream, &name, now),
        Route::ConsumerNames(stream) => consumers::names(engine, &stream, payload),
        Route::ConsumerList(stream) => consumers::list(engine, &stream, payload, now),
    }
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
