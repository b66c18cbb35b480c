//! The binding's error type and how it reaches JavaScript (an `Error` with a `name`).

use wasm_bindgen::{JsCast, JsValue};

use crate::core::store::StoreError;

/// What can go wrong in the browser shell.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// IndexedDB refused or failed a request or transaction.
    #[error("IndexedDB: {0}")]
    Idb(String),
    /// No IndexedDB in this JavaScript environment (Node, some workers).
    #[error("IndexedDB is not available here; use an in-memory engine")]
    NoIndexedDb,
    /// A store operation failed (corrupt record, quota, closed).
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

impl Error {
    /// An IndexedDB failure from whatever JavaScript threw or reported.
    pub fn idb(value: JsValue) -> Error {
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
        Error::Idb(text)
    }
}

impl From<Error> for JsValue {
    fn from(err: Error) -> JsValue {
        let js = js_sys::Error::new(&err.to_string());
        js.set_name("ContrailError");
        js.into()
    }
}
