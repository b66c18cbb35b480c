//! A loopback TCP proxy a test puts between two servers (a link, a leaf node connection) and
//! controls: it cuts every connection it carries, refuses new ones, or goes dark (keeps the
//! connections open and drops what they carry, as a link does whose far side vanished without
//! a close: the sender keeps sending into it until its pings time out).

use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A loopback TCP proxy to `127.0.0.1:<target>`, on a port the system chose.
pub struct Proxy {
    /// The port to connect to instead of the target's.
    pub port: u16,
    target: Arc<AtomicU16>,
    refusing: Arc<AtomicBool>,
    dark: Arc<AtomicBool>,
    cuts: watch::Sender<u64>,
    /// How many connections reached the target so far.
    connected: watch::Receiver<u64>,
    accept_loop: tokio::task::JoinHandle<()>,
}

/// Copies `from` to `to`; with a `pace` in bytes per second, no faster than that. While `dark`
/// is set what is read is dropped.
async fn copy_unless_dark(
    from: &mut (impl AsyncRead + Unpin),
    to: &mut (impl AsyncWrite + Unpin),
    pace: Option<u64>,
    dark: &AtomicBool,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if dark.load(Ordering::SeqCst) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if let Some(rate) = pace {
            tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
        }
    }
}

impl Proxy {
    /// A proxy to `target`; with a `pace` (bytes per second), what the target sends is slowed
    /// to it.
    pub async fn start(target: u16, pace: Option<u64>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy on any port");
        let port = listener.local_addr().expect("the proxy's address").port();
        let refusing = Arc::new(AtomicBool::new(false));
        let dark = Arc::new(AtomicBool::new(false));
        let target = Arc::new(AtomicU16::new(target));
        let target_port = target.clone();
        let (cuts, cut_rx) = watch::channel(0u64);
        let (connected_tx, connected) = watch::channel(0u64);
        let connected_tx = Arc::new(connected_tx);
        let refusing_flag = refusing.clone();
        let dark_flag = dark.clone();
        let accept_loop = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                if refusing_flag.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let mut cut = cut_rx.clone();
                cut.borrow_and_update();
                let connected_tx = connected_tx.clone();
                let dark = dark_flag.clone();
                let target = target_port.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    connected_tx.send_modify(|n| *n += 1);
                    let (mut from_link, mut to_link) = inbound.split();
                    let (mut from_target, mut to_target) = outbound.split();
                    tokio::select! {
                        _ = copy_unless_dark(&mut from_link, &mut to_target, None, &dark) => {}
                        _ = copy_unless_dark(&mut from_target, &mut to_link, pace, &dark) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Proxy {
            port,
            target,
            refusing,
            dark,
            cuts,
            connected,
            accept_loop,
        }
    }

    /// New connections go to `target` from now on (a target restarted on another port).
    pub fn retarget(&self, target: u16) {
        self.target.store(target, Ordering::SeqCst);
    }

    /// Closes every connection now.
    pub fn cut(&self) {
        self.cuts.send_modify(|n| *n += 1);
    }

    /// Closes new connections as they arrive (or, with `false`, carries them again).
    pub fn refuse(&self, refuse: bool) {
        self.refusing.store(refuse, Ordering::SeqCst);
    }

    /// Drops everything every connection carries, both ways, while leaving them open (or, with
    /// `false`, carries it again).
    pub fn go_dark(&self, dark: bool) {
        self.dark.store(dark, Ordering::SeqCst);
    }

    /// Waits (bounded) until a connection made after `seen` connections reached the target.
    pub async fn reconnected_after(&self, seen: u64) -> u64 {
        let mut connected = self.connected.clone();
        let reached =
            tokio::time::timeout(Duration::from_secs(20), connected.wait_for(|n| *n > seen))
                .await
                .expect("the link reconnects through the proxy within 20 s")
                .expect("the proxy runs");
        *reached
    }

    /// How many connections reached the target so far.
    pub fn connections(&self) -> u64 {
        *self.connected.borrow()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept_loop.abort();
        self.cut();
    }
}
