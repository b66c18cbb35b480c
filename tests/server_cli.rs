//! The `contrail` command line: nats-server's flags, `demo`, and clear failures for bad flags
//! and bad config files (an exit code and a message, never a panic).

use std::process::{Command, Output};

fn contrail(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_contrail"))
        .args(args)
        .output()
        .expect("run contrail")
}

#[test]
fn help_lists_serve_demo_and_the_nats_server_flags() {
    let out = contrail(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in [
        "serve",
        "demo",
        "--port",
        "--http_port",
        "--store_dir",
        "--ws_port",
        "--config",
    ] {
        assert!(help.contains(word), "help lacks {word}:\n{help}");
    }
}

#[test]
fn version_prints_and_exits_zero() {
    let out = contrail(&["-v"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("contrail "));
}

#[test]
fn an_unknown_flag_exits_with_usage_error() {
    let out = contrail(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));
}

#[test]
fn a_malformed_config_file_is_refused_with_its_line() {
    let dir = std::env::temp_dir().join(format!("contrail-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let conf = dir.join("bad.conf");
    std::fs::write(&conf, "port: 4222\njetstream {\n  store_dir: \"/tmp\n").expect("write");
    let out = contrail(&["-c", &conf.to_string_lossy(), "-sd", &dir.to_string_lossy()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line"), "names the line: {err}");
}

#[test]
fn demo_runs_the_engine_in_process() {
    let out = contrail(&["demo"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("stream_create_response"));
}
