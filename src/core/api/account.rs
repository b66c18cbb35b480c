//! `$JS.API.INFO`: the account's usage and limits.

use serde_json::{json, Value};

use super::{ApiStats, API_LEVEL};
use crate::core::engine::Engine;
use crate::core::error::ApiError;

pub(super) fn info(engine: &Engine, stats: &ApiStats) -> Result<Value, ApiError> {
    let usage = engine.account_usage();
    let config = engine.config();
    let limit = |v: Option<usize>| v.map_or(-1, |v| v as i64);
    let mut body = json!({
        "memory": usage.memory,
        "storage": usage.storage,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "streams": usage.streams,
        "consumers": usage.consumers,
        "limits": {
            "max_memory": config.max_memory,
            "max_storage": config.max_storage,
            "max_streams": limit(config.max_streams),
            "max_consumers": limit(config.max_consumers),
            "max_ack_pending": -1,
            "memory_max_stream_bytes": -1,
            "storage_max_stream_bytes": -1,
            "max_bytes_required": false,
        },
        "api": { "level": API_LEVEL, "total": stats.total, "errors": stats.errors },
    });
    if let (Some(domain), Some(map)) = (&config.domain, body.as_object_mut()) {
        map.insert("domain".into(), Value::String(domain.clone()));
    }
    Ok(body)
}
