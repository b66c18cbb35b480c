//! nats-py (the official Python client) against the real server binary: runs
//! `tests/interop_py/interop.py` with the Python named by `CONTRAIL_PYTHON` (a venv with
//! `nats-py`; `scripts/interop` makes one and runs this ignored test).

mod interop_support;

use std::process::Command;
use std::time::Duration;

use interop_support::TestServer;

#[test]
#[ignore = "needs a python with nats-py: scripts/interop provides one and runs this"]
fn nats_py_suite_passes() {
    let Ok(python) = std::env::var("CONTRAIL_PYTHON") else {
        panic!("set CONTRAIL_PYTHON to a python with nats-py (scripts/interop does)");
    };
    let server = TestServer::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop_py/interop.py");
    let mut child = Command::new(python)
        .arg(script)
        .arg(server.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start python");
    // Bounded: the script bounds each check; this bounds the whole run.
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        if child.try_wait().expect("poll python").is_some() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("nats-py suite exceeded 240 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("python output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "nats-py checks failed:\n{stdout}\n{stderr}"
    );
}
