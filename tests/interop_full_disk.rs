//! A full disk stops nothing: a server whose store directory is on a small, full filesystem
//! answers each publish it cannot store at once with 503 / 10023 "insufficient resources",
//! keeps answering STREAM.INFO, MSG.GET and consumer fetches of stored messages, lets
//! STREAM.PURGE free the space, and takes publishes again right after, without a restart.
//! Every acknowledged message is still there after a restart. Both when a storage limit
//! refuses publishes before the disk is full (the default, as in the scenario) and
//! when the disk itself fills first: then the publishes whose write hits ENOSPC are answered
//! with 10023 at that write too, within a client's usual request timeout, and are not stored
//! (the batch is taken back), so a restart finds exactly what was acknowledged. And the server's `max_file_store` is one budget for every
//! account, so an operator can keep the disk from filling at all.
//!
//! The filesystem is a real 8 MiB tmpfs mounted for the test (CI runs as root). Where it cannot
//! be mounted the test says plainly that it did not run, and fails if `CI` is set, so CI never
//! skips it silently. The tmpfs is unmounted at the end, also when the test fails.

#[path = "interop_support/mod.rs"]
mod interop_support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use interop_support::{bounded, request_json, Options, TestServer};
use serde_json::{json, Value};

/// Payload of each publish.
const PAYLOAD: usize = 4096;
/// More publishes than 8 MiB can hold, so the disk must fill before this many.
const MAX_PUBLISHES: usize = 8 * 1024 * 1024 / PAYLOAD * 2;

/// The server with its store on a mounted tmpfs; unmounts (after stopping the server) on drop.
struct OnTmpfs {
    server: Option<TestServer>,
    mount: PathBuf,
}

impl OnTmpfs {
    /// Starts a server, then restarts it with its store directory on an 8 MiB tmpfs. `None`
    /// (after saying why) when the tmpfs cannot be mounted.
    fn start() -> Option<OnTmpfs> {
        Self::start_with(Options::default())
    }

    /// As [`OnTmpfs::start`], with these server options.
    fn start_with(opts: Options) -> Option<OnTmpfs> {
        let mut server = TestServer::start_with(opts);
        server.stop(true);
        let mount = server.dir.join("store");
        let _ = std::fs::remove_dir_all(&mount);
        std::fs::create_dir_all(&mount).expect("mount point");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(&mount)
            .output();
        match mounted {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                skip(&String::from_utf8_lossy(&out.stderr));
                return None;
            }
            Err(err) => {
                skip(&err.to_string());
                return None;
            }
        }
        let mut guard = OnTmpfs {
            server: Some(server),
            mount,
        };
        guard.server().restart(true);
        Some(guard)
    }

    /// Starts, as [`OnTmpfs::start`], a server whose `max_file_store` (1 GiB) is larger than
    /// the disk, so the disk itself fills first. Contrail only (nats-server 2.9 and 2.14 leave
    /// the publish that hits ENOSPC unanswered, "critical write error"): `None` (after saying
    /// that `test` did not run) against nats-server.
    fn start_smaller_than_its_limit(test: &str) -> Option<OnTmpfs> {
        if interop_support::kind() != interop_support::Kind::Contrail {
            eprintln!(
                "{test}: Contrail only (nats-server leaves the publish that hits ENOSPC \
                 unanswered); not run against nats-server"
            );
            return None;
        }
        Self::start_with(Options {
            config: Some("jetstream { max_file_store: 1073741824 }\n".into()),
            ..Options::default()
        })
    }

    fn server(&mut self) -> &mut TestServer {
        self.server.as_mut().expect("server is running")
    }

    /// Restarts the server gracefully (after closing `client`, a client of it); a client of the
    /// restarted server.
    async fn restart(&mut self, client: async_nats::Client) -> async_nats::Client {
        drop(client);
        self.server().restart(true);
        self.server().client().await
    }
}

impl Drop for OnTmpfs {
    fn drop(&mut self) {
        let dir = self.server.as_ref().map(|s| s.dir.clone());
        if let Some(mut server) = self.server.take() {
            server.stop(false);
            // Its own drop removes what it can of its directory (not the busy mount point).
            drop(server);
        }
        let _ = Command::new("umount").arg(&self.mount).status();
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn skip(why: &str) {
    eprintln!(
        "interop_full_disk DID NOT RUN: cannot mount a tmpfs ({}); run as root to test a full disk",
        why.trim()
    );
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set: the full-disk test must run there"
    );
}

async fn publish(client: &async_nats::Client, n: usize) -> Value {
    let payload = vec![b'a' + (n % 26) as u8; PAYLOAD];
    let reply = client
        .request(format!("full.{n}"), payload.into())
        .await
        .unwrap_or_else(|e| panic!("publish {n}: no reply ({e})"));
    serde_json::from_slice(&reply.payload).expect("PubAck is JSON")
}

/// Creates the file stream FULL (on `full.>`).
async fn create_full(client: &async_nats::Client) {
    let created = request_json(
        client,
        "$JS.API.STREAM.CREATE.FULL",
        json!({"name": "FULL", "subjects": ["full.>"], "storage": "file"}),
    )
    .await;
    assert!(created.get("error").is_none(), "{created}");
}

/// Creates the stream FULL (on `full.>`) with a durable pull consumer C.
async fn create_full_with_consumer(client: &async_nats::Client) {
    create_full(client).await;
    let consumer = request_json(
        client,
        "$JS.API.CONSUMER.DURABLE.CREATE.FULL.C",
        json!({"stream_name": "FULL", "config": {"durable_name": "C", "ack_policy": "explicit"}}),
    )
    .await;
    assert!(consumer.get("error").is_none(), "{consumer}");
}

/// Fetches the next message for consumer C (it must come at once) and checks it is message
/// `seq` as published by [`publish`].
async fn fetch_one(client: &async_nats::Client, seq: u64) {
    use futures_util::StreamExt;
    // Deliveries carry the message's own subject: they come to the inbox's subscription, not
    // to a request's reply matcher.
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.expect("subscribe");
    client
        .publish_with_reply(
            "$JS.API.CONSUMER.MSG.NEXT.FULL.C",
            inbox,
            json!({"batch": 1, "no_wait": true}).to_string().into(),
        )
        .await
        .expect("pull request");
    let msg = tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .unwrap_or_else(|_| panic!("fetch of stored message {seq}: no reply"))
        .expect("subscription open");
    let reply = msg.reply.as_deref().unwrap_or_default();
    assert!(
        reply.starts_with("$JS.ACK.FULL.C."),
        "a delivery, not a status: {:?} {:?}",
        msg.status,
        msg.description
    );
    let n = seq - 1;
    assert_eq!(msg.subject.as_str(), format!("full.{n}"), "{reply}");
    assert_eq!(msg.payload.len(), PAYLOAD);
}

/// MSG.GET of message `seq` is answered with it.
async fn get(client: &async_nats::Client, seq: u64) {
    let got = request_json(client, "$JS.API.STREAM.MSG.GET.FULL", json!({ "seq": seq })).await;
    assert_eq!(got["message"]["seq"], seq, "{got}");
}

async fn messages(client: &async_nats::Client) -> u64 {
    let info = request_json(client, "$JS.API.STREAM.INFO.FULL", Value::Null).await;
    info["state"]["messages"]
        .as_u64()
        .unwrap_or_else(|| panic!("STREAM.INFO answered: {info}"))
}

/// Publishes one at a time, each answered, until one is refused: how many were acknowledged
/// (at sequences 1, 2, …) and the refusal. Fails if 8 MiB never fill up.
async fn fill_until_refused(client: &async_nats::Client) -> (u64, Value) {
    let mut acked = 0u64;
    let refused = loop {
        let reply = publish(client, acked as usize).await;
        if reply.get("error").is_some() {
            break reply;
        }
        assert_eq!(reply["seq"], acked + 1, "{reply}");
        acked += 1;
        assert!((acked as usize) < MAX_PUBLISHES, "8 MiB never filled up");
    };
    (acked, refused)
}

/// Publishes `full.<n>` for each `n` of `numbers` (payload `payload(n)`) without waiting, then
/// waits for every reply, each as long as a client's request would: the replies, as they came.
async fn publish_pipelined(
    client: &async_nats::Client,
    numbers: std::ops::Range<usize>,
    payload: impl Fn(usize) -> Vec<u8>,
) -> Vec<Value> {
    let mut replies = client.subscribe("_R.>").await.expect("subscribe");
    for n in numbers.clone() {
        client
            .publish_with_reply(format!("full.{n}"), format!("_R.{n}"), payload(n).into())
            .await
            .expect("publish");
    }
    client.flush().await.expect("flush");
    let mut answered = Vec::new();
    for _ in numbers {
        answered.push(next_reply(&mut replies).await);
    }
    answered
}

/// Purges FULL, asserting it worked; the API's reply.
async fn purge_full(client: &async_nats::Client) -> Value {
    let purged = request_json(client, "$JS.API.STREAM.PURGE.FULL", Value::Null).await;
    assert_eq!(purged["success"], true, "{purged}");
    purged
}

/// Publishes once more and asserts it is acknowledged (publishing resumed): its sequence.
async fn publish_resumes(client: &async_nats::Client, after: &str) -> u64 {
    let reply = publish(client, 0).await;
    reply["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("publishes resume {after}: {reply}"))
}

/// Purges FULL, then publishes once more: acknowledged (publishing resumed by itself) at a
/// sequence past `last_acked`, which it returns.
async fn purge_and_publish_again(client: &async_nats::Client, last_acked: u64) -> u64 {
    purge_full(client).await;
    let seq = publish_resumes(client, "after the purge").await;
    assert!(
        seq > last_acked,
        "sequences go on: {seq} after {last_acked}"
    );
    seq
}

/// Restarts the server on `disk` (closing `client`) and asserts FULL holds the publish
/// acknowledged after the purge, at `seq`, alone.
async fn assert_only_the_post_purge_publish_after_a_restart(
    disk: &mut OnTmpfs,
    client: async_nats::Client,
    seq: u64,
) {
    let client = disk.restart(client).await;
    bounded(async {
        assert_eq!(messages(&client).await, 1, "the post-purge publish, alone");
        get(&client, seq).await;
    })
    .await;
}

fn assert_insufficient_resources(reply: &Value) {
    assert_eq!(reply["error"]["code"], 503, "{reply}");
    assert_eq!(reply["error"]["err_code"], 10023, "{reply}");
    assert_eq!(
        reply["error"]["description"], "insufficient resources",
        "{reply}"
    );
}

#[tokio::test]
async fn a_full_disk_refuses_publishes_at_once_and_a_purge_makes_room() {
    let Some(mut disk) = OnTmpfs::start() else {
        return;
    };
    let client = disk.server().client().await;
    bounded(async {
        create_full_with_consumer(&client).await;

        // Fill the disk: every publish is answered, until one is refused.
        let (acked, refused) = fill_until_refused(&client).await;
        assert!(acked > 0, "some publishes fit: {refused}");
        assert_insufficient_resources(&refused);
        // Still full: the next publish is refused the same way, not left hanging.
        assert_insufficient_resources(&publish(&client, 0).await);
        // Reads keep working, and hold exactly what was acknowledged.
        assert_eq!(messages(&client).await, acked, "nothing acked lost");
        get(&client, 1).await;
        get(&client, acked).await;
        fetch_one(&client, 1).await;
        fetch_one(&client, 2).await;

        let purged = purge_full(&client).await;
        assert_eq!(purged["purged"], acked, "{purged}");
        let seq = publish_resumes(&client, "after the purge").await;
        assert_eq!(seq, acked + 1, "publishes resume after the purge");
    })
    .await;

    // A restart finds what was acknowledged after the purge.
    let client = disk.restart(client).await;
    bounded(async {
        assert_eq!(
            messages(&client).await,
            1,
            "the post-purge publish survived"
        );
    })
    .await;
}

#[tokio::test]
async fn acknowledged_publishes_survive_a_restart_on_a_full_disk() {
    let Some(mut disk) = OnTmpfs::start() else {
        return;
    };
    let client = disk.server().client().await;
    let acked = bounded(async {
        create_full(&client).await;
        let mut acked = 0u64;
        loop {
            let reply = publish(&client, acked as usize).await;
            if reply.get("error").is_some() {
                assert_insufficient_resources(&reply);
                break;
            }
            acked += 1;
            assert!((acked as usize) < MAX_PUBLISHES, "8 MiB never filled up");
        }
        acked
    })
    .await;
    let client = disk.restart(client).await;
    bounded(async {
        assert_eq!(
            messages(&client).await,
            acked,
            "every acked message is back"
        );
        get(&client, acked).await;
    })
    .await;
}

/// Waits for the next reply on `replies`, as long as a client's request would (10 s).
async fn next_reply(replies: &mut async_nats::Subscriber) -> Value {
    use futures_util::StreamExt;
    let msg = tokio::time::timeout(Duration::from_secs(10), replies.next())
        .await
        .expect("a publish is answered within a request timeout, without freeing space")
        .expect("replies");
    serde_json::from_slice(&msg.payload).expect("JSON")
}

/// A configured limit larger than the disk, so the disk itself fills (Contrail only: nats-server
/// 2.9 and 2.14 leave the publish that hits ENOSPC unanswered, "critical write error"). Every
/// publish is answered without any space freed: PubAcks for what is durable, 10023 for the
/// batch whose write failed (at that write) and for the publishes after it (at once), for
/// those requests only; STREAM.INFO is answered; once another stream's deletion frees space,
/// publishing resumes by itself. After a restart the stream holds exactly what was
/// acknowledged: the refused publishes were not stored.
#[tokio::test]
async fn a_disk_that_fills_before_the_limit_refuses_publishes_and_recovers() {
    let test = "a_disk_that_fills_before_the_limit_refuses_publishes_and_recovers";
    let Some(mut disk) = OnTmpfs::start_smaller_than_its_limit(test) else {
        return;
    };
    let client = disk.server().client().await;
    let acked = bounded(async {
        for name in ["BALLAST", "FULL"] {
            let created = request_json(
                &client,
                &format!("$JS.API.STREAM.CREATE.{name}"),
                json!({"name": name, "subjects": [format!("{}.>", name.to_lowercase())]}),
            )
            .await;
            assert!(created.get("error").is_none(), "{created}");
        }
        // 3 MiB the test can free later.
        for n in 0..768 {
            let reply = client
                .request(format!("ballast.{n}"), vec![b'b'; PAYLOAD].into())
                .await
                .expect("ballast publish answered");
            let reply: Value = serde_json::from_slice(&reply.payload).expect("JSON");
            assert!(reply["seq"].is_u64(), "{reply}");
        }
        // More than the rest of the disk, pipelined: replies come as they may. Every publish is
        // answered while the disk is still full.
        let replies = publish_pipelined(&client, 0..MAX_PUBLISHES, |_| vec![b'f'; PAYLOAD]).await;
        let mut acked = std::collections::BTreeSet::new();
        let mut refused = 0u64;
        for reply in replies {
            match reply["seq"].as_u64() {
                Some(seq) => assert!(acked.insert(seq), "{reply}"),
                None => {
                    assert_insufficient_resources(&reply);
                    refused += 1;
                }
            }
        }
        assert!(refused > 0, "the disk filled");
        let stored = messages(&client).await;
        assert!(stored >= acked.len() as u64, "STREAM.INFO is answered");
        // Free space: publishing resumes by itself.
        let deleted = request_json(&client, "$JS.API.STREAM.DELETE.BALLAST", Value::Null).await;
        assert_eq!(deleted["success"], true, "{deleted}");
        acked.insert(publish_resumes(&client, "once space is freed").await);
        (acked, refused)
    })
    .await;
    let (acked, refused) = acked;
    let client = disk.restart(client).await;
    bounded(async {
        let stored = messages(&client).await;
        assert_eq!(
            stored,
            acked.len() as u64,
            "exactly what was acked ({refused} refused)"
        );
        for seq in [acked.first(), acked.last()].into_iter().flatten() {
            get(&client, *seq).await;
        }
    })
    .await;
}

/// The scenario where the disk itself fills first (a configured limit larger than the
/// disk; Contrail only, see above), ended by purging the full stream itself: every publish is
/// answered before any space is freed, the batch whose write failed with 10023 at that write
/// and the publishes after it at once; STREAM.INFO, MSG.GET and a consumer fetch of
/// acknowledged messages are answered meanwhile; the purge gives the space back although
/// nothing more can be written before it (the refused messages still queued go with it), and
/// publishing resumes by itself. After a restart the stream holds exactly what was
/// acknowledged after the purge.
#[tokio::test]
async fn a_disk_that_fills_before_the_limit_is_freed_by_purging_the_full_stream() {
    let test = "a_disk_that_fills_before_the_limit_is_freed_by_purging_the_full_stream";
    let Some(mut disk) = OnTmpfs::start_smaller_than_its_limit(test) else {
        return;
    };
    let client = disk.server().client().await;
    let last = bounded(async {
        create_full_with_consumer(&client).await;
        // Some messages acknowledged one by one: durable before the disk fills.
        for n in 0..16 {
            assert_eq!(publish(&client, n).await["seq"], n as u64 + 1);
        }
        // More than the rest of the disk, pipelined: replies come as they may. Every publish is
        // answered while the disk is still full.
        let replies = publish_pipelined(&client, 16..MAX_PUBLISHES, |n| {
            vec![b'a' + (n % 26) as u8; PAYLOAD]
        })
        .await;
        let mut last_acked = 16u64;
        let mut refused = 0;
        for reply in replies {
            match reply["seq"].as_u64() {
                Some(seq) => last_acked = last_acked.max(seq),
                None => {
                    assert_insufficient_resources(&reply);
                    refused += 1;
                }
            }
        }
        assert!(refused > 0, "the disk filled");
        assert!(
            messages(&client).await >= last_acked,
            "STREAM.INFO is answered"
        );
        get(&client, 1).await;
        get(&client, last_acked).await;
        fetch_one(&client, 1).await;

        purge_and_publish_again(&client, last_acked).await
    })
    .await;
    assert_only_the_post_purge_publish_after_a_restart(&mut disk, client, last).await;
}

/// The disk fills before the limit (a configured limit larger than the disk): a client
/// publishing one request at a time gets a reply to every publish within its request timeout,
/// the one whose write hits ENOSPC included (10023, not a timeout, and not stored), and so do
/// the ones after it; reads go on and find exactly what was acknowledged; a purge frees the
/// disk and publishing resumes; a restart finds exactly the publish acknowledged after the
/// purge.
#[tokio::test]
async fn the_publish_whose_write_hits_a_full_disk_is_answered_at_once() {
    let test = "the_publish_whose_write_hits_a_full_disk_is_answered_at_once";
    let Some(mut disk) = OnTmpfs::start_smaller_than_its_limit(test) else {
        return;
    };
    let client = disk.server().client().await;
    let last = bounded(async {
        create_full_with_consumer(&client).await;
        // `publish` fails the test when a request times out.
        let (acked, refused) = fill_until_refused(&client).await;
        assert!(acked > 0, "some publishes fit: {refused}");
        assert_insufficient_resources(&refused);
        assert_insufficient_resources(&publish(&client, 0).await);
        assert_eq!(
            messages(&client).await,
            acked,
            "the refused publish is not stored"
        );
        let info = request_json(&client, "$JS.API.CONSUMER.INFO.FULL.C", Value::Null).await;
        assert_eq!(
            info["num_pending"], acked,
            "nor counted for a consumer: {info}"
        );
        get(&client, acked).await;
        fetch_one(&client, 1).await;

        purge_and_publish_again(&client, acked).await
    })
    .await;
    assert_only_the_post_purge_publish_after_a_restart(&mut disk, client, last).await;
}

/// The server's `max_file_store` is one budget for the whole server, as in nats-server: once
/// the streams of account A fill it, a publish to a stream of account B is refused with 10023
/// too (each account's JetStream counts against the same disk).
#[tokio::test]
async fn the_server_file_limit_is_shared_by_every_account() {
    const LIMIT: usize = 1024 * 1024;
    let server = TestServer::start_with(Options {
        config: Some(format!(
            "jetstream {{ max_file_store: {LIMIT} }}\n\
             accounts {{\n\
               A {{ users: [ {{user: a, password: pa}} ], jetstream: enabled }}\n\
               B {{ users: [ {{user: b, password: pb}} ], jetstream: enabled }}\n\
             }}\n"
        )),
        ..Options::default()
    });
    let a = server.login("a", "pa").await;
    let b = server.login("b", "pb").await;
    bounded(async {
        for client in [&a, &b] {
            create_full(client).await;
        }
        // Fill the server's budget from account A alone.
        let mut taken = 0;
        let refused = loop {
            let reply = publish(&a, taken).await;
            if reply.get("error").is_some() {
                break reply;
            }
            taken += 1;
            assert!(taken * PAYLOAD < 2 * LIMIT, "the limit never applied");
        };
        assert_insufficient_resources(&refused);
        assert_insufficient_resources(&publish(&b, 0).await);
        // Space freed in A is space for B.
        purge_full(&a).await;
        let after = publish(&b, 0).await;
        assert_eq!(after["seq"], 1, "B publishes once A freed space: {after}");
    })
    .await;
}
