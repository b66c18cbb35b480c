//! The `permissions { … }` blocks of users, `default_permissions` and accounts: each direction
//! a subject, a list or `{allow, deny}`, and `allow_responses`. Keys are held to their lists as
//! everywhere in the auth reader (a typo here must not silently grant or drop a permission).

use std::time::Duration;

use serde_json::Value;

use super::Key::Read;
use super::{object, one_or_many, wrong, AuthConfigError, Keys, Reader, Result};
use crate::core::subject;
use crate::server::auth::permissions::{Permissions, ResponsePermission, SubjectPermission};
use crate::server::conf::key_path;

/// A `permissions { … }` block.
const PERMISSIONS_KEYS: Keys = &[
    (&["pub", "publish", "import"], Read),
    (&["sub", "subscribe", "export"], Read),
    (&["publish_allow_responses", "allow_responses"], Read),
];

/// The permissions block at `path`.
pub(super) fn read_permissions_at(
    r: &mut Reader,
    value: &Value,
    path: &str,
) -> Result<Permissions> {
    let map = object(value, "permissions")?;
    r.check(map, path, PERMISSIONS_KEYS)?;
    let mut perms = Permissions::default();
    for (key, v) in map {
        let key_at = key_path(path, key);
        match key.as_str() {
            "pub" | "publish" | "import" => perms.publish = read_direction(r, v, &key_at, false)?,
            "sub" | "subscribe" | "export" => {
                perms.subscribe = read_direction(r, v, &key_at, true)?
            }
            "publish_allow_responses" | "allow_responses" => {
                perms.response = read_responses(r, v, &key_at)?;
            }
            // Keys used as variables.
            _ => {}
        }
    }
    if perms.response.is_some() {
        // Responses are granted on top of an allow list; with none, the user may publish only
        // responses (nats-server turns the blanket allow off).
        let publish = perms.publish.get_or_insert_with(SubjectPermission::default);
        publish.allow.get_or_insert_with(Vec::new);
    }
    Ok(perms)
}

/// One direction as a block: `publish { allow, deny }`.
const DIRECTION_KEYS: Keys = &[(&["allow"], Read), (&["deny"], Read)];

/// One direction: `"subj"`, `[subjects]` (both an allow list) or `{allow, deny}`.
fn read_direction(
    r: &mut Reader,
    value: &Value,
    path: &str,
    queues: bool,
) -> Result<Option<SubjectPermission>> {
    match value {
        Value::Object(map) if map.is_empty() => Ok(None),
        Value::Object(map) => {
            r.check(map, path, DIRECTION_KEYS)?;
            let mut out = SubjectPermission::default();
            for (key, v) in map {
                match key.as_str() {
                    "allow" => out.allow = Some(subjects(v, queues)?),
                    "deny" => out.deny = subjects(v, queues)?,
                    // Keys used as variables.
                    _ => {}
                }
            }
            Ok(Some(out))
        }
        other => Ok(Some(SubjectPermission {
            allow: Some(subjects(other, queues)?),
            deny: Vec::new(),
        })),
    }
}

fn subjects(value: &Value, queues: bool) -> Result<Vec<String>> {
    let list = one_or_many(
        value,
        || wrong("permission subject", "a string"),
        || wrong("permissions", "a subject or a list of subjects"),
    )?;
    for s in &list {
        let valid = match s.split_whitespace().collect::<Vec<_>>().as_slice() {
            [one] if *one == s.as_str() => subject::validate_filter(one).is_ok(),
            // `"subject queue"`, for subscribe permissions only.
            [subj, queue] if queues => {
                subject::validate_filter(subj).is_ok() && subject::validate_filter(queue).is_ok()
            }
            _ => false,
        };
        if !valid {
            return Err(AuthConfigError::BadSubject(s.clone()));
        }
    }
    Ok(list)
}

/// `allow_responses { … }`.
const RESPONSES_KEYS: Keys = &[
    (&["max", "max_msgs", "max_messages", "max_responses"], Read),
    (&["expires", "expiration", "ttl"], Read),
];

/// `allow_responses: true | false | { max, expires }`.
fn read_responses(r: &mut Reader, value: &Value, path: &str) -> Result<Option<ResponsePermission>> {
    match value {
        Value::Bool(on) => Ok(on.then(ResponsePermission::default)),
        Value::Object(map) => {
            r.check(map, path, RESPONSES_KEYS)?;
            let mut rp = ResponsePermission::default();
            for (key, v) in map {
                match key.as_str() {
                    "max" | "max_msgs" | "max_messages" | "max_responses" => {
                        let n = v.as_i64().ok_or_else(|| wrong(key, "an integer"))?;
                        // 0 keeps the default; negative means unlimited.
                        if n != 0 {
                            rp.max_msgs = n;
                        }
                    }
                    "expires" | "expiration" | "ttl" => {
                        if !v.is_string() {
                            return Err(wrong(key, "a duration string"));
                        }
                        let ttl = crate::server::conf::duration(v)
                            .ok_or_else(|| wrong(key, "a duration string"))?;
                        if ttl != Duration::ZERO {
                            rp.expires = Some(ttl);
                        }
                    }
                    // Keys used as variables.
                    _ => {}
                }
            }
            Ok(Some(rp))
        }
        _ => Err(wrong("allow_responses", "a boolean or a block")),
    }
}
