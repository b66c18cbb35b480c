//! Which `$JS.API` request a subject names.

/// A `$JS.API` request, identified by its subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `INFO`: account usage and limits.
    AccountInfo,
    /// `STREAM.CREATE.<stream>`
    StreamCreate(String),
    /// `STREAM.UPDATE.<stream>`
    StreamUpdate(String),
    /// `STREAM.INFO.<stream>`
    StreamInfo(String),
    /// `STREAM.NAMES`
    StreamNames,
    /// `STREAM.LIST`
    StreamList,
    /// `STREAM.DELETE.<stream>`
    StreamDelete(String),
    /// `STREAM.PURGE.<stream>`
    StreamPurge(String),
    /// `STREAM.MSG.GET.<stream>`
    MsgGet(String),
    /// `STREAM.MSG.DELETE.<stream>`
    MsgDelete(String),
    /// `DIRECT.GET.<stream>` (request in the body) or `DIRECT.GET.<stream>.<subject>` (last
    /// message on that subject).
    DirectGet {
        /// Stream name.
        stream: String,
        /// The subject named in the request subject, if any.
        last_by_subject: Option<String>,
    },
    /// `CONSUMER.CREATE.<stream>[.<consumer>[.<filter>]]`
    ConsumerCreate {
        /// Stream name.
        stream: String,
        /// Consumer name from the subject.
        consumer: Option<String>,
        /// Filter subject from the subject.
        filter: Option<String>,
    },
    /// `CONSUMER.DURABLE.CREATE.<stream>.<durable>` (legacy form).
    DurableCreate {
        /// Stream name.
        stream: String,
        /// Durable name from the subject (`None` when missing: an error to report).
        durable: Option<String>,
    },
    /// `CONSUMER.INFO.<stream>.<consumer>`
    ConsumerInfo(String, String),
    /// `CONSUMER.DELETE.<stream>.<consumer>`
    ConsumerDelete(String, String),
    /// `CONSUMER.NAMES.<stream>`
    ConsumerNames(String),
    /// `CONSUMER.LIST.<stream>`
    ConsumerList(String),
    /// `CONSUMER.MSG.NEXT.<stream>.<consumer>`: a pull request.
    MsgNext(String, String),
}

impl Route {
    /// The `<op>` of the `io.nats.jetstream.api.v1.<op>_response` type its reply has (message
    /// reads answer with messages and have none).
    pub fn op_name(&self) -> &'static str {
        match self {
            Route::AccountInfo => "account_info",
            Route::StreamCreate(_) => "stream_create",
            Route::StreamUpdate(_) => "stream_update",
            Route::StreamInfo(_) => "stream_info",
            Route::StreamNames => "stream_names",
            Route::StreamList => "stream_list",
            Route::StreamDelete(_) => "stream_delete",
            Route::StreamPurge(_) => "stream_purge",
            Route::MsgGet(_) => "stream_msg_get",
            Route::MsgDelete(_) => "stream_msg_delete",
            Route::ConsumerCreate { .. } | Route::DurableCreate { .. } => "consumer_create",
            Route::ConsumerInfo(..) => "consumer_info",
            Route::ConsumerDelete(..) => "consumer_delete",
            Route::ConsumerNames(_) => "consumer_names",
            Route::ConsumerList(_) => "consumer_list",
            Route::MsgNext(..) | Route::DirectGet { .. } => "",
        }
    }

    /// Reads a request subject (with the `$JS.API.` prefix already removed). `None` for a
    /// subject no handler serves (the shell answers "no responders", as nats-server would).
    pub fn parse(rest: &str) -> Option<Route> {
        let tokens: Vec<&str> = rest.split('.').collect();
        let route = match tokens.as_slice() {
            ["INFO"] => Route::AccountInfo,
            ["STREAM", "CREATE", s] => Route::StreamCreate(s.to_string()),
            ["STREAM", "UPDATE", s] => Route::StreamUpdate(s.to_string()),
            ["STREAM", "INFO", s] => Route::StreamInfo(s.to_string()),
            ["STREAM", "NAMES"] => Route::StreamNames,
            ["STREAM", "LIST"] => Route::StreamList,
            ["STREAM", "DELETE", s] => Route::StreamDelete(s.to_string()),
            ["STREAM", "PURGE", s] => Route::StreamPurge(s.to_string()),
            ["STREAM", "MSG", "GET", s] => Route::MsgGet(s.to_string()),
            ["STREAM", "MSG", "DELETE", s] => Route::MsgDelete(s.to_string()),
            ["DIRECT", "GET", s] => Route::DirectGet {
                stream: s.to_string(),
                last_by_subject: None,
            },
            ["DIRECT", "GET", s, ..] => Route::DirectGet {
                stream: s.to_string(),
                last_by_subject: Some(tokens[3..].join(".")),
            },
            ["CONSUMER", "DURABLE", "CREATE", s] => Route::DurableCreate {
                stream: s.to_string(),
                durable: None,
            },
            ["CONSUMER", "DURABLE", "CREATE", s, d] => Route::DurableCreate {
                stream: s.to_string(),
                durable: Some(d.to_string()),
            },
            ["CONSUMER", "CREATE", s] => Route::ConsumerCreate {
                stream: s.to_string(),
                consumer: None,
                filter: None,
            },
            ["CONSUMER", "CREATE", s, c] => Route::ConsumerCreate {
                stream: s.to_string(),
                consumer: Some(c.to_string()),
                filter: None,
            },
            ["CONSUMER", "CREATE", s, c, ..] => Route::ConsumerCreate {
                stream: s.to_string(),
                consumer: Some(c.to_string()),
                filter: Some(tokens[4..].join(".")),
            },
            ["CONSUMER", "INFO", s, c] => Route::ConsumerInfo(s.to_string(), c.to_string()),
            ["CONSUMER", "DELETE", s, c] => Route::ConsumerDelete(s.to_string(), c.to_string()),
            ["CONSUMER", "NAMES", s] => Route::ConsumerNames(s.to_string()),
            ["CONSUMER", "LIST", s] => Route::ConsumerList(s.to_string()),
            ["CONSUMER", "MSG", "NEXT", s, c] => Route::MsgNext(s.to_string(), c.to_string()),
            _ => return None,
        };
        if route.names().iter().any(|n| n.is_empty()) {
            return None;
        }
        Some(route)
    }

    /// The stream and consumer names the subject carries (empty tokens make the route invalid).
    fn names(&self) -> Vec<&str> {
        match self {
            Route::AccountInfo | Route::StreamNames | Route::StreamList => vec![],
            Route::StreamCreate(s)
            | Route::StreamUpdate(s)
            | Route::StreamInfo(s)
            | Route::StreamDelete(s)
            | Route::StreamPurge(s)
            | Route::MsgGet(s)
            | Route::MsgDelete(s)
            | Route::ConsumerNames(s)
            | Route::ConsumerList(s) => vec![s],
            Route::DirectGet { stream, .. } => vec![stream],
            Route::ConsumerCreate {
                stream, consumer, ..
            } => {
                let mut v = vec![stream.as_str()];
                v.extend(consumer.as_deref());
                v
            }
            Route::DurableCreate { stream, durable } => {
                let mut v = vec![stream.as_str()];
                v.extend(durable.as_deref());
                v
            }
            Route::ConsumerInfo(s, c) | Route::ConsumerDelete(s, c) | Route::MsgNext(s, c) => {
                vec![s, c]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(Route::parse("INFO"), Some(Route::AccountInfo));
        assert_eq!(
            Route::parse("STREAM.CREATE.ORDERS"),
            Some(Route::StreamCreate("ORDERS".into()))
        );
        assert_eq!(
            Route::parse("CONSUMER.CREATE.S.C.orders.*.eu"),
            Some(Route::ConsumerCreate {
                stream: "S".into(),
                consumer: Some("C".into()),
                filter: Some("orders.*.eu".into())
            })
        );
        assert_eq!(
            Route::parse("DIRECT.GET.KV_b.$KV.b.key"),
            Some(Route::DirectGet {
                stream: "KV_b".into(),
                last_by_subject: Some("$KV.b.key".into())
            })
        );
        assert_eq!(
            Route::parse("CONSUMER.MSG.NEXT.S.C"),
            Some(Route::MsgNext("S".into(), "C".into()))
        );
        assert_eq!(
            Route::parse("CONSUMER.DURABLE.CREATE.S"),
            Some(Route::DurableCreate {
                stream: "S".into(),
                durable: None
            })
        );
    }

    #[test]
    fn unknown_or_empty_names_are_not_served() {
        assert_eq!(Route::parse("STREAM.CREATE"), None);
        assert_eq!(Route::parse("STREAM.CREATE."), None);
        assert_eq!(Route::parse("NOPE"), None);
        assert_eq!(Route::parse("CONSUMER.INFO.S"), None);
        assert_eq!(Route::parse(""), None);
    }
}
