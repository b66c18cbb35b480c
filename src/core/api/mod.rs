//! The `$JS.API` layer of the JetStream front ([`crate::core::front::JetStream`]): a request
//! (subject + JSON) in, nats-server's exact reply out, written on the engine's typed methods.
//!
//! The front reads the subject ([`route`]), picks where the replies go (`reply_rule`) and
//! calls `dispatch`, which decodes the JSON body, calls the engine's typed method, counts the
//! request in [`ApiStats`], and queues the reply on the request's reply subject with the
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

use crate::core::engine::{Engine, ReplyRule};
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

/// Counters reported in `$JS.API.INFO` and `/jsz`, kept by the front.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ApiStats {
    /// API requests handled.
    pub total: u64,
    /// API requests answered with an error.
    pub errors: u64,
}

/// Where the replies to a request on `route` go (`None`: a subject no handler serves): at
/// once when it describes nothing written, after the write, read or deliveries it made
/// otherwise (see the engine's `outbox.rs`).
pub(crate) fn reply_rule(route: Option<&Route>) -> ReplyRule {
    match route {
        None
        | Some(
            Route::AccountInfo
            | Route::StreamInfo(_)
            | Route::StreamNames
            | Route::StreamList
            | Route::StreamDelete(_)
            | Route::ConsumerInfo(..)
            | Route::ConsumerNames(_)
            | Route::ConsumerList(_),
        ) => ReplyRule::Ready,
        Some(
            Route::StreamCreate(stream)
            | Route::StreamUpdate(stream)
            | Route::StreamPurge(stream)
            | Route::MsgDelete(stream)
            | Route::ConsumerCreate { stream, .. }
            | Route::DurableCreate { stream, .. }
            | Route::ConsumerDelete(stream, _),
        ) => ReplyRule::Write(stream.clone()),
        Some(Route::MsgGet(stream) | Route::DirectGet { stream, .. }) => {
            ReplyRule::Read(stream.clone())
        }
        Some(Route::MsgNext(stream, _)) => ReplyRule::Ordered(stream.clone()),
    }
}

/// Serves request `msg` on `route` within the request the front began on `engine` (see
/// [`Engine::begin_request`]), counting it in `stats`. `false` when the request names a
/// direct get of a stream that does not serve one (the shell answers "no responders").
pub(crate) fn dispatch(
    engine: &mut Engine,
    stats: &mut ApiStats,
    route: Route,
    msg: Message,
    now: Nanos,
) -> bool {
    stats.total += 1;
    // A request for a newer API than ours is refused before it does anything (nats-server's
    // `errorOnRequiredApiLevel`, in every handler): message reads with a 412 status, JSON
    // requests with 10185.
    let too_new = requires_newer_api(msg.headers.as_deref());
    match route {
        Route::MsgNext(..) | Route::DirectGet { .. } if too_new => {
            if let Some(reply) = msg.reply.as_deref() {
                engine.send_reply(messages::status(reply, 412, "Required Api Level"));
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
        handle_json(engine, stats, route, &msg.payload, now)
    };
    if result.is_err() {
        stats.errors += 1;
        engine.request_failed();
    }
    if let Some(reply) = msg.reply {
        engine.send_reply(Outbound::to_subject(reply, None, response_body(op, result)));
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
    stats: &ApiStats,
    route: Route,
    payload: &[u8],
    now: Nanos,
) -> Result<Value, ApiError> {
    match route {
        // Answered with messages by `dispatch`.
        Route::MsgNext(..) | Route::DirectGet { .. } => Err(ErrorKind::BadRequest.into()),
        Route::AccountInfo => account::info(engine, stats),
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
