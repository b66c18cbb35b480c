//! The `contrail` binary: `contrail [serve] [flags]` runs the server (nats-server's flags, see
//! `contrail --help`; `--demo` keeps example streams busy while it runs, see
//! `contrail::server::demo`); `contrail demo` runs a short in-process demo of the engine: the
//! same `$JS.API` requests, publishes and acks a NATS client would send, printed as they go.

// The server is native only; on wasm32 (where `cargo test --target wasm32-unknown-unknown` still
// builds every binary) this is an empty program.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    native::main()
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::process::ExitCode;
    use std::time::{SystemTime, UNIX_EPOCH};

    use bytes::Bytes;
    use clap::Parser;
    use contrail::core::front::JetStream;
    use contrail::core::message::{Message, Outbound};
    use contrail::core::time::Nanos;
    use contrail::server::config;

    fn now() -> Nanos {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as Nanos)
            .unwrap_or(0)
    }

    /// Sends one message, flushes, and returns what the engine released.
    fn send(front: &mut JetStream, msg: Message) -> Vec<Outbound> {
        front.handle(msg, now());
        let engine = front.engine_mut();
        if let Err(err) = engine.flush().result() {
            eprintln!("store sync failed: {err}");
        }
        std::iter::from_fn(|| engine.poll_outbound()).collect()
    }

    fn request(front: &mut JetStream, subject: &str, body: &str) {
        println!("> {subject} {body}");
        for out in send(
            front,
            Message::new(subject, Bytes::from(body.to_string())).with_reply("_INBOX.demo"),
        ) {
            println!("< {}", String::from_utf8_lossy(&out.msg.payload));
        }
    }

    /// Bytes glibc's malloc adds beyond each request when it grows a heap (`M_TOP_PAD`; its
    /// default is 128 KiB). A server storing messages in memory grows its heaps steadily; in
    /// 128 KiB steps each is an `mprotect` and a change to the process's memory map (with
    /// 1 KiB messages one per about 120 publishes). Measured in the interop bench: server CPU
    /// per message 5-20% lower in the memory rows (async publish of 1 KiB over raw sockets
    /// 2.2-2.9 -> 1.75-1.8 us), the file rows unchanged, and resident memory with 5,000,000
    /// stored messages unchanged (the pad is address space; pages are touched as they are
    /// used). Setting it also fixes glibc's mmap threshold at 128 KiB (allocations above it are
    /// mapped and unmapped each time).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    const HEAP_TOP_PAD: libc::c_int = 32 << 20;

    /// Grows the allocator's heaps in large steps (see [`HEAP_TOP_PAD`]). A failure (an
    /// allocator that does not know the option) leaves the defaults.
    fn tune_allocator() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only sets a parameter of glibc's allocator; it is called before the
        // runtime starts any thread, and a value it refuses is ignored (it returns 0).
        unsafe {
            libc::mallopt(libc::M_TOP_PAD, HEAP_TOP_PAD);
        }
    }

    pub fn main() -> ExitCode {
        tune_allocator();
        let args = config::rewrite_args(std::env::args());
        let cli = match config::Cli::try_parse_from(args) {
            Ok(cli) => cli,
            Err(err) => {
                // --help and --version land here too, with exit code 0.
                let _ = err.print();
                return if err.use_stderr() {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
        };
        match cli.command {
            Some(config::Command::Demo) => {
                demo();
                ExitCode::SUCCESS
            }
            Some(config::Command::Serve(args)) => serve(&args),
            None => serve(&cli.serve),
        }
    }

    fn serve(args: &config::ServeArgs) -> ExitCode {
        let config = match config::ServerConfig::from_args(args) {
            Ok(config) => config,
            Err(err) => {
                eprintln!("contrail: {err}");
                return ExitCode::from(1);
            }
        };
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_level));
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
        for line in config.summary() {
            tracing::info!("{line}");
        }
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(err) => {
                eprintln!("contrail: cannot start runtime: {err}");
                return ExitCode::from(1);
            }
        };
        match runtime.block_on(contrail::server::run_with_demo(config, args.demo)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("contrail: {err}");
                ExitCode::from(1)
            }
        }
    }

    fn demo() {
        let mut front = JetStream::in_memory(now() as u64);
        request(
            &mut front,
            "$JS.API.STREAM.CREATE.ORDERS",
            r#"{"subjects":["orders.>"],"storage":"memory"}"#,
        );
        for (i, region) in ["eu", "us", "eu"].iter().enumerate() {
            let subject = format!("orders.{region}");
            println!("> PUB {subject} order {i}");
            for out in send(
                &mut front,
                Message::new(subject, format!("order {i}")).with_reply("_INBOX.ack"),
            ) {
                println!("< {}", String::from_utf8_lossy(&out.msg.payload));
            }
        }
        request(
            &mut front,
            "$JS.API.CONSUMER.CREATE.ORDERS.eu",
            r#"{"stream_name":"ORDERS","config":{"durable_name":"eu","filter_subject":"orders.eu","ack_policy":"explicit"}}"#,
        );
        println!("> PULL ORDERS.eu batch 10, no_wait");
        let pull = Message::new(
            "$JS.API.CONSUMER.MSG.NEXT.ORDERS.eu",
            r#"{"batch":10,"no_wait":true}"#,
        )
        .with_reply("_INBOX.pull");
        for out in send(&mut front, pull) {
            match out.msg.reply {
                Some(ack) => {
                    println!(
                        "< {} {:?} (ack: {ack})",
                        out.msg.subject,
                        String::from_utf8_lossy(&out.msg.payload)
                    );
                    send(&mut front, Message::new(ack, "+ACK"));
                }
                None => println!(
                    "< status {}",
                    String::from_utf8_lossy(out.msg.headers.as_deref().unwrap_or_default()).trim()
                ),
            }
        }
        request(&mut front, "$JS.API.CONSUMER.INFO.ORDERS.eu", "");
    }
}
