//! Listeners as nats-server opens them: no monitoring port unless `-m` asks for one (so two
//! servers share a host with only their own `-p`), and a port that is taken stops the server
//! with an error that names the listener and the address.

#[path = "interop_support/mod.rs"]
mod interop_support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use interop_support::{kind, temp_dir, Kind};

fn program() -> String {
    match kind() {
        Kind::Contrail => env!("CARGO_BIN_EXE_contrail").to_string(),
        _ => "nats-server".to_string(),
    }
}

/// Runs the server with `args` until it writes its ports file; returns the file's JSON, then
/// stops the server.
fn ports_of_a_server_started_with(args: &[&str]) -> serde_json::Value {
    let dir = temp_dir("listeners");
    let ports_dir = dir.join("ports");
    std::fs::create_dir_all(&ports_dir).expect("ports dir");
    let store = dir.join("store");
    let mut child = Command::new(program())
        .args(["-a", "127.0.0.1", "-js", "-sd", &store.to_string_lossy()])
        .args(["--ports_file_dir", &ports_dir.to_string_lossy()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let suffix = format!("_{}.ports", child.id());
    let mut found = None;
    for _ in 0..400 {
        if let Some(json) = read_ports(&ports_dir, &suffix) {
            found = Some(json);
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("server exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    found.expect("the server wrote its ports file within 10 s")
}

fn read_ports(dir: &Path, suffix: &str) -> Option<serde_json::Value> {
    let file = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(suffix))?;
    serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()
}

#[test]
fn no_monitoring_port_is_opened_unless_asked_for() {
    let ports = ports_of_a_server_started_with(&["-p", "-1"]);
    assert!(ports["nats"][0].is_string(), "{ports}");
    assert!(
        ports.get("monitoring").is_none(),
        "no -m, no monitoring: {ports}"
    );
    let ports = ports_of_a_server_started_with(&["-p", "-1", "-m", "-1"]);
    assert!(
        ports["monitoring"][0]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
        "{ports}"
    );
}

/// Runs the server to its exit (bounded) with `args`; the port `taken` is held by the test.
fn run_to_exit(args: &[String]) -> Output {
    let dir = temp_dir("taken");
    let store = dir.join("store");
    let mut child = Command::new(program())
        .args(["-a", "127.0.0.1", "-js", "-sd", &store.to_string_lossy()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    for _ in 0..400 {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("server output");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

#[test]
fn a_taken_port_stops_the_server_naming_the_listener_and_the_address() {
    // Held by this test for its whole run: nobody else can take it meanwhile.
    let holder = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken = holder.local_addr().expect("addr").port();
    let cases = [
        ("client", vec!["-p".to_string(), taken.to_string()]),
        (
            "http monitoring",
            vec!["-p".into(), "-1".into(), "-m".into(), taken.to_string()],
        ),
    ];
    for (listener, args) in cases {
        let out = run_to_exit(&args);
        assert!(
            !out.status.success(),
            "{listener}: the server must not run without its listener"
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if kind() == Kind::Contrail {
            let expected = format!("{listener} listener 127.0.0.1:{taken}: Address already in use");
            assert!(text.contains(&expected), "want {expected:?} in:\n{text}");
        } else {
            assert!(
                text.contains(&format!("{taken}")),
                "names the port:\n{text}"
            );
        }
    }
    drop(holder);
}
