//! @nats-io/jetstream and @nats-io/kv (the official JavaScript clients) against the real server
//! binary: runs `tests/interop_js/interop.mjs` with Node once `npm ci` has filled
//! `tests/interop_js/node_modules` (`scripts/interop` does, and runs this ignored test).

mod interop_support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use interop_support::TestServer;

#[test]
#[ignore = "needs @nats-io/jetstream from npm ci: scripts/interop provides it and runs this"]
fn nats_js_suite_passes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop_js");
    assert!(
        dir.join("node_modules/@nats-io/jetstream").is_dir(),
        "run `npm ci` in tests/interop_js first (scripts/interop does)"
    );
    let server = TestServer::start();
    let mut child = Command::new("node")
        .arg("interop.mjs")
        .arg(format!("127.0.0.1:{}", server.port))
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start node");
    let deadline = Instant::now() + Duration::from_secs(240);
    while child.try_wait().expect("poll node").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("JavaScript suite exceeded 240 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("node output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "JavaScript checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
