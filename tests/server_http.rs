//! Contrail's HTTP port also serves the web app: `www/` at `/` and the npm package under
//! `/pkg/`, from the static root (the working directory by default), and nothing outside them.
//! (nats-server has no such feature, so this suite runs against Contrail only.)

#[path = "interop_support/mod.rs"]
mod interop_support;

use interop_support::{http_get, Kind, Options, TestServer};

fn server() -> Option<TestServer> {
    if interop_support::kind() != Kind::Contrail {
        return None;
    }
    let server = TestServer::start_with(Options {
        http: true,
        ..Default::default()
    });
    for (path, body) in [
        ("www/index.html", "<h1>contrail</h1>"),
        ("www/app.js", "console.log(1)"),
        ("pkg/contrail.js", "export {}"),
        ("secret.txt", "do not serve"),
    ] {
        let full = server.dir.join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, body).expect("write");
    }
    Some(server)
}

#[test]
fn the_site_and_the_package_are_served() {
    let Some(server) = server() else { return };
    let port = server.http_port.expect("http");
    assert_eq!(http_get(port, "/"), (200, "<h1>contrail</h1>".to_string()));
    assert_eq!(
        http_get(port, "/app.js"),
        (200, "console.log(1)".to_string())
    );
    assert_eq!(
        http_get(port, "/pkg/contrail.js"),
        (200, "export {}".to_string())
    );
}

#[test]
fn paths_outside_www_and_pkg_are_refused() {
    let Some(server) = server() else { return };
    let port = server.http_port.expect("http");
    for path in [
        "/../secret.txt",
        "/pkg/../secret.txt",
        "/%2e%2e/secret.txt",
        "/secret.txt",
    ] {
        let (status, body) = http_get(port, path);
        assert_ne!(status, 200, "{path} must not be served");
        assert!(!body.contains("do not serve"), "{path} leaked");
    }
}
