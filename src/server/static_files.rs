//! The web app's static files on the HTTP port: `www/` (the site, `/` is `www/index.html`) and
//! `pkg/` (the npm package, under `/pkg/`) below the static root.
//!
//! A file is served only if its real path (symlinks resolved) is inside `www/` or `pkg/`;
//! dot-files and anything under a `node_modules` folder are never served. Files are streamed in
//! chunks, so a slow reader costs one chunk, not the whole file; `TimedIo` drops a connection
//! whose writes make no progress for the write deadline.

use std::future::Future;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use hyper::header::CONTENT_TYPE;
use hyper::{Response, StatusCode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::monitor::{plain, Resp};

/// Bytes of a file read and sent at a time.
const FILE_CHUNK: usize = 64 * 1024;

/// Maps a URL path to a file under `www/` or `pkg/`; `None` for anything that would leave them,
/// and for dot-files and `node_modules` (a package's dependencies are not part of the site).
pub fn static_path(root: &Path, url_path: &str) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next().unwrap_or("");
    let (base, rest) = static_base(path);
    let mut out = root.join(base);
    for part in Path::new(rest).components() {
        match part {
            Component::Normal(p) => {
                let name = p.to_str()?;
                if name.starts_with('.') || name == "node_modules" {
                    return None;
                }
                out.push(p)
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    if rest.is_empty() || rest.ends_with('/') {
        out.push("index.html");
    }
    Some(out)
}

/// Which folder a URL path is served from, and the path inside it.
fn static_base(path: &str) -> (&'static str, &str) {
    match path.strip_prefix("/pkg/") {
        Some(rest) => ("pkg", rest),
        None => (
            "www",
            path.strip_prefix("/www/")
                .unwrap_or(path.trim_start_matches('/')),
        ),
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" | "ts" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Answers a GET for `url_path` from `www/` or `pkg/` under `root`.
pub(super) async fn serve(root: &Path, url_path: &str) -> Resp {
    if url_path.contains("..") {
        return plain(StatusCode::BAD_REQUEST, "bad path");
    }
    let Some(path) = static_path(root, url_path) else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let (base, _) = static_base(url_path);
    let Some(file) = open_inside(&root.join(base), &path).await else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let len = file.1;
    let chunks = futures_util::stream::unfold(Some(file.0), |file| async move {
        let mut file = file?;
        let mut buf = bytes::BytesMut::with_capacity(FILE_CHUNK);
        match file.read_buf(&mut buf).await {
            Ok(0) => None,
            Ok(_) => Some((Ok(Frame::data(buf.freeze())), Some(file))),
            Err(err) => Some((Err(err), None)),
        }
    });
    Response::builder()
        .header(CONTENT_TYPE, content_type(&path))
        .header(hyper::header::CONTENT_LENGTH, len)
        .body(BodyExt::boxed(StreamBody::new(chunks)))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "error"))
}

/// Opens `path` if it is a regular file whose real path (symlinks resolved) is inside `base`;
/// with its length.
async fn open_inside(base: &Path, path: &Path) -> Option<(tokio::fs::File, u64)> {
    let base = tokio::fs::canonicalize(base).await.ok()?;
    let real = tokio::fs::canonicalize(path).await.ok()?;
    if !real.starts_with(&base) {
        return None;
    }
    let file = tokio::fs::File::open(&real).await.ok()?;
    let meta = file.metadata().await.ok()?;
    meta.is_file().then_some((file, meta.len()))
}

/// The HTTP connection's socket, failing a write that has made no progress for `deadline` (a
/// client that stops reading a download is dropped instead of holding the connection forever).
pub(super) struct TimedIo<S> {
    inner: S,
    deadline: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> TimedIo<S> {
    pub(super) fn new(inner: S, deadline: Duration) -> TimedIo<S> {
        TimedIo {
            inner,
            deadline,
            stalled: None,
        }
    }

    /// Turns a pending write into a timeout error once it has waited `deadline`.
    fn pending<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let deadline = self.deadline;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "http write deadline exceeded",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for TimedIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for TimedIo<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Pending => self.pending(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Pending => self.pending(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_paths_stay_inside_www_and_pkg() {
        let root = Path::new("/srv");
        assert_eq!(
            static_path(root, "/"),
            Some(PathBuf::from("/srv/www/index.html"))
        );
        assert_eq!(
            static_path(root, "/app.js"),
            Some(PathBuf::from("/srv/www/app.js"))
        );
        assert_eq!(
            static_path(root, "/pkg/contrail_bg.wasm"),
            Some(PathBuf::from("/srv/pkg/contrail_bg.wasm"))
        );
        assert_eq!(static_path(root, "/www/../Cargo.toml"), None);
        assert_eq!(static_path(root, "/pkg/../../etc/passwd"), None);
    }

    #[test]
    fn dot_files_and_node_modules_are_not_served() {
        let root = Path::new("/srv");
        for path in [
            "/pkg/node_modules/x/index.js",
            "/node_modules/a.js",
            "/pkg/dist/node_modules/a.js",
            "/.git/config",
            "/pkg/.npmrc",
            "/sub/.env",
        ] {
            assert_eq!(static_path(root, path), None, "{path}");
        }
        assert_eq!(
            static_path(root, "/pkg/dist/contrail.js"),
            Some(PathBuf::from("/srv/pkg/dist/contrail.js"))
        );
    }

    #[tokio::test]
    async fn symlinks_out_of_www_are_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("www/sub")).expect("mkdir");
        std::fs::write(root.join("secret.txt"), "secret").expect("write");
        std::fs::write(root.join("www/sub/page.html"), "page").expect("write");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.join("secret.txt"), root.join("www/leak.txt"))
                .expect("symlink");
            std::os::unix::fs::symlink(root.join("www/sub/page.html"), root.join("www/p.html"))
                .expect("symlink");
            let leak = serve(root, "/leak.txt").await;
            assert_eq!(leak.status(), StatusCode::NOT_FOUND);
            let inside = serve(root, "/p.html").await;
            assert_eq!(
                inside.status(),
                StatusCode::OK,
                "a link within www/ is fine"
            );
        }
        let page = serve(root, "/sub/page.html").await;
        assert_eq!(page.status(), StatusCode::OK);
        let body = page.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(&body[..], b"page");
        let dir_itself = serve(root, "/sub").await;
        assert_eq!(dir_itself.status(), StatusCode::NOT_FOUND);
    }
}
