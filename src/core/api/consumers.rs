//! `CONSUMER.*` requests: create (both subject forms), info, delete, names, list.

use serde_json::{json, Value};

use super::{optional_body, page, required_body, to_object, PagedRequest, LIST_LIMIT, NAMES_LIMIT};
use crate::core::consumer::ConsumerConfig;
use crate::core::engine::{CreateAction, Engine};
use crate::core::error::{ApiError, ErrorKind};
use crate::core::time::Nanos;

/// Which subject form a create request came on.
pub(super) enum Form {
    /// `CONSUMER.CREATE.<stream>[.<consumer>[.<filter>]]`
    New {
        /// Consumer name from the subject.
        consumer: Option<String>,
        /// Filter subject from the subject.
        filter: Option<String>,
    },
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>`
    Durable(Option<String>),
}

/// The create request body: `{"stream_name": "...", "config": {...}, "action": ""}`.
#[derive(Debug, serde::Deserialize)]
struct CreateRequest {
    #[serde(default)]
    stream_name: String,
    config: Option<ConsumerConfig>,
    #[serde(default)]
    action: CreateAction,
}

/// Applies nats-server's rules tying the subject form to the config's names and filter.
fn reconcile(form: Form, config: &mut ConsumerConfig) -> Result<(), ApiError> {
    match form {
        Form::Durable(durable) => {
            let durable =
                durable.ok_or_else(|| ApiError::new(ErrorKind::ConsumerDurableNameNotInSubject))?;
            match &config.durable_name {
                None => return Err(ErrorKind::ConsumerDurableNameNotSet.into()),
                Some(d) if *d != durable => {
                    return Err(ErrorKind::ConsumerDurableNameNotMatchSubject.into())
                }
                Some(_) => {}
            }
            config.name = Some(durable);
        }
        Form::New { consumer: None, .. } => {
            if config.durable_name.is_some() {
                return Err(ErrorKind::ConsumerEphemeralWithDurableName.into());
            }
        }
        Form::New {
            consumer: Some(name),
            filter,
        } => {
            if name.contains(['\\', '/']) {
                return Err(ErrorKind::ConsumerNameContainsPathSeparators.into());
            }
            if config.durable_name.as_deref().is_some_and(|d| d != name) {
                return Err(ErrorKind::ConsumerDurableNameNotMatchSubject.into());
            }
            if let Some(filter) = filter {
                if !config.filter_subjects.is_empty() {
                    return Err(ErrorKind::ConsumerMultipleFiltersNotAllowed.into());
                }
                if config.filter_subject.as_deref() != Some(filter.as_str()) {
                    return Err(ErrorKind::ConsumerCreateFilterSubjectMismatch.into());
                }
            }
            if config.name.as_deref().is_some_and(|n| n != name) && config.durable_name.is_none() {
                return Err(ErrorKind::ConsumerCreateDurableAndNameMismatch.into());
            }
            config.name = Some(name);
        }
    }
    if let (Some(name), Some(durable)) = (&config.name, &config.durable_name) {
        if name != durable {
            return Err(ErrorKind::ConsumerCreateDurableAndNameMismatch.into());
        }
    }
    Ok(())
}

pub(super) fn create(
    engine: &mut Engine,
    stream: &str,
    form: Form,
    payload: &[u8],
    now: Nanos,
) -> Result<Value, ApiError> {
    let req: CreateRequest = required_body(payload)?;
    if req.stream_name != stream {
        return Err(ErrorKind::StreamMismatch.into());
    }
    let mut config = req
        .config
        .ok_or_else(|| ApiError::new(ErrorKind::ConsumerConfigRequired))?;
    reconcile(form, &mut config)?;
    to_object(engine.create_consumer(stream, config, req.action, now)?)
}

pub(super) fn info(
    engine: &Engine,
    stream: &str,
    name: &str,
    now: Nanos,
) -> Result<Value, ApiError> {
    to_object(engine.consumer_info(stream, name, now)?)
}

pub(super) fn delete(
    engine: &mut Engine,
    stream: &str,
    name: &str,
    now: Nanos,
) -> Result<Value, ApiError> {
    engine.delete_consumer(stream, name, now)?;
    Ok(json!({ "success": true }))
}

pub(super) fn names(engine: &Engine, stream: &str, payload: &[u8]) -> Result<Value, ApiError> {
    let req: PagedRequest = optional_body(payload)?;
    let all = engine.public_consumer_names(stream)?;
    let total = all.len();
    let (offset, names) = page(all, req.offset, NAMES_LIMIT);
    let consumers = if names.is_empty() {
        Value::Null
    } else {
        json!(names)
    };
    Ok(json!({ "total": total, "offset": offset, "limit": NAMES_LIMIT, "consumers": consumers }))
}

pub(super) fn list(
    engine: &Engine,
    stream: &str,
    payload: &[u8],
    now: Nanos,
) -> Result<Value, ApiError> {
    let req: PagedRequest = optional_body(payload)?;
    let all = engine.public_consumer_names(stream)?;
    let total = all.len();
    let (offset, names) = page(all, req.offset, LIST_LIMIT);
    let infos = names
        .iter()
        .map(|name| engine.consumer_info(stream, name, now).and_then(to_object))
        .collect::<Result<Vec<Value>, ApiError>>()?;
    Ok(json!({ "total": total, "offset": offset, "limit": LIST_LIMIT, "consumers": infos }))
}
