//! `jetstream { max_file_store, max_memory_store }` as nats-server enforces them: a stream whose
//! `max_bytes` does not fit in what is left is refused (10047 file, 10028 memory), and once the
//! streams of a storage type hold more than its limit, publishes to them are refused at once with
//! 503 / 10023 "insufficient resources" (the publish that crosses the limit is still taken).

#[path = "interop_support/mod.rs"]
mod interop_support;

use interop_support::{bounded, request_json, Options, TestServer};
use serde_json::{json, Value};

const LIMIT: u64 = 1024 * 1024;
const PAYLOAD: usize = 4096;

fn server() -> TestServer {
    TestServer::start_with(Options {
        config: Some(format!(
            "jetstream {{ max_file_store: {LIMIT}, max_memory_store: {LIMIT} }}\n"
        )),
        ..Options::default()
    })
}

async fn create(client: &async_nats::Client, name: &str, extra: Value) -> Value {
    let mut config = json!({ "name": name, "subjects": [format!("{}.>", name.to_lowercase())] });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    request_json(client, &format!("$JS.API.STREAM.CREATE.{name}"), config).await
}

fn err_code(reply: &Value) -> Option<u64> {
    reply["error"]["err_code"].as_u64()
}

#[tokio::test]
async fn a_stream_reserving_more_than_is_left_is_refused() {
    let server = server();
    let client = server.client().await;
    bounded(async {
        for (storage, code) in [("file", 10047), ("memory", 10028)] {
            let too_big = create(
                &client,
                &format!("BIG_{storage}"),
                json!({ "storage": storage, "max_bytes": 2 * LIMIT }),
            )
            .await;
            assert_eq!(err_code(&too_big), Some(code), "{storage}: {too_big}");
            assert_eq!(too_big["error"]["code"], 500, "{too_big}");

            let half = create(
                &client,
                &format!("HALF_{storage}"),
                json!({ "storage": storage, "max_bytes": LIMIT / 2 }),
            )
            .await;
            assert!(half.get("error").is_none(), "{storage}: {half}");
            let more = create(
                &client,
                &format!("MORE_{storage}"),
                json!({ "storage": storage, "max_bytes": LIMIT / 2 + 4096 }),
            )
            .await;
            assert_eq!(
                err_code(&more),
                Some(code),
                "{storage}: what is left: {more}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn publishes_past_the_limit_are_refused_with_insufficient_resources() {
    let server = server();
    let client = server.client().await;
    bounded(async {
        for storage in ["file", "memory"] {
            let name = format!("FILL_{storage}").to_uppercase();
            let created = create(&client, &name, json!({ "storage": storage })).await;
            assert!(created.get("error").is_none(), "{created}");
            let subject = format!("{}.x", name.to_lowercase());
            let mut acked = 0u64;
            let refused = loop {
                let reply = client
                    .request(subject.clone(), vec![b'x'; PAYLOAD].into())
                    .await
                    .expect("every publish is answered");
                let reply: Value = serde_json::from_slice(&reply.payload).expect("JSON");
                if reply.get("error").is_some() {
                    break reply;
                }
                acked += 1;
                assert!(acked < 2 * LIMIT / PAYLOAD as u64, "{storage}: no limit");
            };
            assert_eq!(err_code(&refused), Some(10023), "{storage}: {refused}");
            assert_eq!(refused["error"]["code"], 503, "{refused}");
            let bytes = acked * PAYLOAD as u64;
            assert!(
                bytes >= LIMIT * 9 / 10,
                "{storage}: refused well before the limit ({acked} taken)"
            );
            let info =
                request_json(&client, &format!("$JS.API.STREAM.INFO.{name}"), Value::Null).await;
            assert_eq!(info["state"]["messages"], acked, "{info}");
            // Deleting the stream frees its bytes: the next stream takes publishes again.
            let deleted = request_json(
                &client,
                &format!("$JS.API.STREAM.DELETE.{name}"),
                Value::Null,
            )
            .await;
            assert_eq!(deleted["success"], true, "{deleted}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_server_limits_are_not_the_accounts() {
    let server = server();
    let client = server.client().await;
    bounded(async {
        let info = request_json(&client, "$JS.API.INFO", Value::Null).await;
        assert_eq!(info["limits"]["max_storage"], -1, "{info}");
        assert_eq!(info["limits"]["max_memory"], -1, "{info}");
    })
    .await;
}
