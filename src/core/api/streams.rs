//! `STREAM.*` requests: create, update, info, names, list, delete, purge.

use serde_json::{json, Value};

use super::{optional_body, page, required_body, to_object, PagedRequest, LIST_LIMIT, NAMES_LIMIT};
use crate::core::engine::Engine;
use crate::core::error::{ApiError, ErrorKind};
use crate::core::stream::{InfoOptions, PurgeRequest, StreamConfig};
use crate::core::time::Nanos;

/// A config's name must be the one in the subject; an empty name takes the subject's.
fn config_for(name: &str, payload: &[u8]) -> Result<StreamConfig, ApiError> {
    let mut config: StreamConfig = required_body(payload)?;
    if config.name.is_empty() {
        config.name = name.to_string();
    } else if config.name != name {
        return Err(ErrorKind::StreamMismatch.into());
    }
    Ok(config)
}

pub(super) fn create(
    engine: &mut Engine,
    name: &str,
    payload: &[u8],
    now: Nanos,
) -> Result<Value, ApiError> {
    let config = config_for(name, payload)?;
    let (info, did_create) = engine.create_stream(config, now)?;
    let mut body = to_object(info)?;
    if did_create {
        if let Some(map) = body.as_object_mut() {
            map.insert("did_create".into(), Value::Bool(true));
        }
    }
    Ok(body)
}

pub(super) fn update(
    engine: &mut Engine,
    name: &str,
    payload: &[u8],
    now: Nanos,
) -> Result<Value, ApiError> {
    let config = config_for(name, payload)?;
    to_object(engine.update_stream(config, now)?)
}

pub(super) fn info(
    engine: &Engine,
    name: &str,
    payload: &[u8],
    now: Nanos,
) -> Result<Value, ApiError> {
    let opts: InfoOptions = optional_body(payload)?;
    let info = engine.stream_info(name, now, &opts)?;
    let paging = info.subjects_paging.unwrap_or_default();
    let mut body = to_object(info)?;
    if let Some(map) = body.as_object_mut() {
        map.insert("total".into(), json!(paging.total));
        map.insert("offset".into(), json!(paging.offset));
        map.insert("limit".into(), json!(paging.limit));
    }
    Ok(body)
}

pub(super) fn names(engine: &Engine, payload: &[u8]) -> Result<Value, ApiError> {
    let req: PagedRequest = optional_body(payload)?;
    let all = engine.stream_names(req.subject.as_deref().filter(|s| !s.is_empty()));
    let total = all.len();
    let (offset, names) = page(all, req.offset, NAMES_LIMIT);
    // nats-server sends `null` rather than `[]` when there are none (a nil Go slice).
    let streams = if names.is_empty() {
        Value::Null
    } else {
        json!(names)
    };
    Ok(json!({ "total": total, "offset": offset, "limit": NAMES_LIMIT, "streams": streams }))
}

pub(super) fn list(engine: &Engine, payload: &[u8], now: Nanos) -> Result<Value, ApiError> {
    let req: PagedRequest = optional_body(payload)?;
    let all = engine.stream_names(req.subject.as_deref().filter(|s| !s.is_empty()));
    let total = all.len();
    let (offset, names) = page(all, req.offset, LIST_LIMIT);
    let infos = names
        .iter()
        .map(|name| {
            engine
                .stream_info(name, now, &InfoOptions::default())
                .and_then(to_object)
        })
        .collect::<Result<Vec<Value>, ApiError>>()?;
    Ok(json!({ "total": total, "offset": offset, "limit": LIST_LIMIT, "streams": infos }))
}

pub(super) fn delete(engine: &mut Engine, name: &str) -> Result<Value, ApiError> {
    engine.delete_stream(name)?;
    Ok(json!({ "success": true }))
}

pub(super) fn purge(
    engine: &mut Engine,
    name: &str,
    payload: &[u8],
    now: Nanos,
) -> Result<Value, ApiError> {
    let req: PurgeRequest = optional_body(payload)?;
    let purged = engine.purge_stream(name, &req, now)?;
    Ok(json!({ "success": true, "purged": purged }))
}
