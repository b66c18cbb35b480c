//! The binding's error type and how it reaches JavaScript: an `Error` whose `name` is
//! `"QuotaExceededError"` when the browser refused to store more (pkg/index.js turns that into
//! its StorageFullError) and `"ContrailError"` for everything else.

use wasm_bindgen::{JsCast, JsValue};

use crate::core::store::StoreError;

/// What can go wrong in the browser shell.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// IndexedDB refused or failed a request or transaction.
    #[error("IndexedDB: {0}")]
    Idb(String),
    /// The browser's storage quota for this site is used up: the commit failed and nothing of it
    /// was kept.
    #[error(
        "storage quota exceeded: the browser refused to store more for this site, so nothing \
         of this flush was saved (free space, delete data, or ask for persistent storage)"
    )]
    QuotaExceeded,
    /// An earlier commit failed, so the engine went back to the last committed state: what was
    /// handled after that state and before the rollback is gone, unacknowledged.
    #[error(
        "an earlier commit failed; the engine rolled back to its last committed state and \
         this flush's messages were dropped unacknowledged"
    )]
    RolledBack,
    /// The database has a layout this version does not read.
    #[error("IndexedDB schema: {0}")]
    Schema(String),
    /// No IndexedDB in this JavaScript environment (Node, some workers).
    #[error("IndexedDB is not available here; use an in-memory engine")]
    NoIndexedDb,
    /// A store operation failed (corrupt record, closed).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored stream could not be restored.
    #[error("cannot restore stream {stream}: {why}")]
    Restore {
        /// The stream's name.
        stream: String,
        /// Why.
        why: String,
    },
}

/// The `name` of a DOMException or Error, if `value` is one.
pub fn dom_name(value: &JsValue) -> Option<String> {
    if !value.is_object() {
        return None;
    }
    js_sys::Reflect::get(value, &"name".into())
        .ok()
        .and_then(|n| n.as_string())
}

impl Error {
    /// An IndexedDB failure from whatever JavaScript threw or reported: a DOMException named
    /// `QuotaExceededError` becomes [`Error::QuotaExceeded`].
    pub fn idb(value: JsValue) -> Error {
        if dom_name(&value).as_deref() == Some("QuotaExceededError") {
            return Error::QuotaExceeded;
        }
        if value.is_null() || value.is_undefined() {
            return Error::Idb("transaction aborted".into());
        }
        let text = value
            .dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .or_else(|| {
                js_sys::Reflect::get(&value, &"message".into())
                    .ok()
                    .and_then(|m| m.as_string())
            })
            .or_else(|| value.as_string())
            .unwrap_or_else(|| format!("{value:?}"));
        match dom_name(&value) {
            Some(name) => Error::Idb(format!("{name}: {text}")),
            None => Error::Idb(text),
        }
    }

    /// The `name` JavaScript sees.
    pub fn js_name(&self) -> &'static str {
        match self {
            Error::QuotaExceeded => "QuotaExceededError",
            _ => "ContrailError",
        }
    }
}

impl From<Error> for JsValue {
    fn from(err: Error) -> JsValue {
        let js = js_sys::Error::new(&err.to_string());
        js.set_name(err.js_name());
        js.into()
    }
}
