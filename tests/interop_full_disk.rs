//! A full disk stops nothing: a server whose store directory is on a small, full filesystem
//! answers each publish it cannot store at once with 503 / 10023 "insufficient resources",
//! keeps answering STREAM.INFO, lets STREAM.PURGE free the space, and takes publishes again
//! right after, without a restart. Every acknowledged message is still there after a restart.
//!
//! The filesystem is a real 8 MiB tmpfs mounted for the test (CI runs as root). Where it cannot
//! be mounted the test says plainly that it did not run, and fails if `CI` is set, so CI never
//! skips it silently. The tmpfs is unmounted at the end, also when the test fails.

#[path = "interop_support/mod.rs"]
mod interop_support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use interop_support::{bounded, TestServer};
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
        let mut server = TestServer::start();
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

    fn server(&mut self) -> &mut TestServer {
        self.server.as_mut().expect("server is running")
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

async fn request(client: &async_nats::Client, subject: &str, body: Value) -> Value {
    let body = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    let reply = client
        .request(subject.to_string(), body.into())
        .await
        .unwrap_or_else(|e| panic!("{subject}: no reply ({e})"));
    serde_json::from_slice(&reply.payload)
        .unwrap_or_else(|e| panic!("{subject}: reply is not JSON ({e})"))
}

async fn publish(client: &async_nats::Client, n: usize) -> Value {
    let payload = vec![b'a' + (n % 26) as u8; PAYLOAD];
    let reply = client
        .request(format!("full.{n}"), payload.into())
        .await
        .unwrap_or_else(|e| panic!("publish {n}: no reply ({e})"));
    serde_json::from_slice(&reply.payload).expect("PubAck is JSON")
}

async fn messages(client: &async_nats::Client) -> u64 {
    let info = request(client, "$JS.API.STREAM.INFO.FULL", Value::Null).await;
    info["state"]["messages"]
        .as_u64()
        .unwrap_or_else(|| panic!("STREAM.INFO answered: {info}"))
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
        let created = request(
            &client,
            "$JS.API.STREAM.CREATE.FULL",
            json!({"name": "FULL", "subjects": ["full.>"], "storage": "file"}),
        )
        .await;
        assert!(created.get("error").is_none(), "{created}");

        // Fill the disk: every publish is answered, until one is refused.
        let mut acked = 0u64;
        let refused = loop {
            let reply = publish(&client, acked as usize).await;
            if reply.get("error").is_some() {
                break reply;
            }
            assert_eq!(reply["seq"], acked + 1, "{reply}");
            acked += 1;
            assert!((acked as usize) < MAX_PUBLISHES, "8 MiB never filled up");
        };
        assert!(acked > 0, "some publishes fit: {refused}");
        assert_insufficient_resources(&refused);
        // Still full: the next publish is refused the same way, not left hanging.
        assert_insufficient_resources(&publish(&client, 0).await);
        // Reads keep working, and hold exactly what was acknowledged.
        assert_eq!(messages(&client).await, acked, "nothing acked lost");

        let purged = request(&client, "$JS.API.STREAM.PURGE.FULL", Value::Null).await;
        assert_eq!(purged["success"], true, "{purged}");
        assert_eq!(purged["purged"], acked, "{purged}");
        let after = publish(&client, 0).await;
        assert_eq!(
            after["seq"].as_u64(),
            Some(acked + 1),
            "publishes resume after the purge: {after}"
        );
    })
    .await;
    drop(client);

    // A restart finds what was acknowledged after the purge.
    disk.server().restart(true);
    let client = disk.server().client().await;
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
    let acked = bounded_value(async {
        let created = request(
            &client,
            "$JS.API.STREAM.CREATE.FULL",
            json!({"name": "FULL", "subjects": ["full.>"], "storage": "file"}),
        )
        .await;
        assert!(created.get("error").is_none(), "{created}");
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
    drop(client);
    disk.server().restart(true);
    let client = disk.server().client().await;
    bounded(async {
        assert_eq!(
            messages(&client).await,
            acked,
            "every acked message is back"
        );
        let last = request(
            &client,
            "$JS.API.STREAM.MSG.GET.FULL",
            json!({ "seq": acked }),
        )
        .await;
        assert_eq!(last["message"]["seq"], acked, "{last}");
    })
    .await;
}

async fn bounded_value<T, F: std::future::Future<Output = T>>(body: F) -> T {
    tokio::time::timeout(Duration::from_secs(60), body)
        .await
        .expect("test exceeded its time bound")
}
