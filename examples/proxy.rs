//! A TCP forwarder: every client connection is forwarded to one upstream
//! address, both directions copied at once, on the jmpco runtime.
//!
//! Run: `cargo run --release --example proxy -- --listen 127.0.0.1:7002
//! --upstream 127.0.0.1:7000` (with `cargo run --example echo_server` as
//! the upstream), then `nc 127.0.0.1 7002` and type lines: each comes back
//! through the proxy.
//!
//! Flags: `--listen HOST:PORT` (default 127.0.0.1:7002), `--upstream
//! HOST:PORT` (default 127.0.0.1:7000), `--connect-timeout-ms N` (default
//! 3000), `--idle-ms N` (default 60000), `--threads N` (default: the core
//! count).
//!
//! Per client, one task: it connects upstream with a timeout (the client
//! is closed if that fails), then spawns a second task on the same worker
//! for the upstream-to-client direction and copies client-to-upstream
//! itself. Each direction waits with a [`Select`]: its source turning
//! readable, or the idle deadline, which counts from the last byte that
//! went either way (a shared cell: both tasks run on one worker). A read
//! of 0 (the sender's FIN) becomes a half-close of the other side
//! (`shutdown(Write)`), so a client that ends its request still gets the
//! whole answer. Idle for the whole timeout, or an error either way, and
//! both connections are shut down.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use jmpco::rt::channel::Select;
use jmpco::rt::{self, Interest, Runtime, TcpStream};

/// What the proxy forwards to, and how long it waits.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Where each connection goes.
    pub upstream: SocketAddr,
    /// How long connecting upstream may take.
    pub connect_timeout: Duration,
    /// How long a connection may carry no byte either way.
    pub idle: Duration,
}

/// Serves the proxy on `listen` (port 0: any); returns the bound address.
pub fn serve(rt: &Runtime, listen: SocketAddr, config: Config) -> io::Result<SocketAddr> {
    rt.serve(listen, move |client| forward(client, config))
}

/// One client's connection, for its whole life.
fn forward(client: TcpStream, config: Config) {
    let upstream = match TcpStream::connect_timeout(&config.upstream, Some(config.connect_timeout))
    {
        Ok(upstream) => upstream,
        Err(e) => {
            eprintln!("proxy: cannot reach {}: {e}", config.upstream);
            return; // dropping the client closes it
        }
    };
    let (client, upstream) = (Rc::new(client), Rc::new(upstream));
    let last = Rc::new(Cell::new(Instant::now()));
    let back = {
        let (from, to, last) = (upstream.clone(), client.clone(), last.clone());
        rt::spawn(move || copy(&from, &to, &last, config.idle))
    };
    let _ = copy(&client, &upstream, &last, config.idle);
    let _ = back.join();
}

/// Copies `from` to `to` until `from` ends (then half-closes `to`), an
/// error, or `idle` without traffic either way (then shuts both down).
/// Returns the bytes copied.
fn copy(from: &TcpStream, to: &TcpStream, last: &Cell<Instant>, idle: Duration) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let readable = Select::new()
            .ready(from, Interest::READABLE, || true)
            .deadline(last.get() + idle, || false)
            .wait()
            .map_err(|e| io::Error::other(e.to_string()))?;
        if !readable {
            if last.get().elapsed() >= idle {
                let _ = from.shutdown(Shutdown::Both);
                let _ = to.shutdown(Shutdown::Both);
                return Err(io::ErrorKind::TimedOut.into());
            }
            continue; // the other direction moved meanwhile
        }
        match (&*from).read(&mut buf) {
            Ok(0) => {
                let _ = to.shutdown(Shutdown::Write);
                return Ok(total);
            }
            Ok(n) => {
                if let Err(e) = (&*to).write_all(&buf[..n]) {
                    let _ = from.shutdown(Shutdown::Both);
                    return Err(e);
                }
                last.set(Instant::now());
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = to.shutdown(Shutdown::Both);
                return Err(e);
            }
        }
    }
}

fn main() -> io::Result<()> {
    let mut listen: SocketAddr = "127.0.0.1:7002".parse().expect("a default address");
    let mut config = Config {
        upstream: "127.0.0.1:7000".parse().expect("a default address"),
        connect_timeout: Duration::from_secs(3),
        idle: Duration::from_secs(60),
    };
    let mut threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--listen" => {
                listen = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--listen HOST:PORT"))
            }
            "--upstream" => {
                config.upstream = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--upstream HOST:PORT"))
            }
            "--connect-timeout-ms" => {
                config.connect_timeout = Duration::from_millis(
                    value()
                        .parse()
                        .unwrap_or_else(|_| usage("--connect-timeout-ms N")),
                )
            }
            "--idle-ms" => {
                config.idle =
                    Duration::from_millis(value().parse().unwrap_or_else(|_| usage("--idle-ms N")))
            }
            "--threads" => threads = value().parse().unwrap_or_else(|_| usage("--threads N")),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    let rt = Runtime::builder().worker_threads(threads).build()?;
    let addr = serve(&rt, listen, config)?;
    println!(
        "proxy on {addr} -> {}; try: nc {} {}",
        config.upstream,
        addr.ip(),
        addr.port()
    );
    loop {
        std::thread::park();
    }
}

const USAGE: &str = "usage: proxy [--listen HOST:PORT] [--upstream HOST:PORT] \
                     [--connect-timeout-ms N] [--idle-ms N] [--threads N]";

fn usage(problem: &str) -> ! {
    eprintln!("proxy: {problem}\n{USAGE}");
    std::process::exit(2)
}
