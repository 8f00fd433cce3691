//! An echo server: one coroutine per client on the jmpco epoll runtime.
//!
//! Run: `cargo run --release --example echo_server -- --addr 127.0.0.1:7000`
//! then `nc 127.0.0.1 7000` and type lines: each comes back.
//!
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:7000), `--threads N`
//! (default: the core count), `--backend sjlj|ucontext|asm` (default sjlj),
//! `--stack-size BYTES` (default 16K; `K`/`M` suffixes work),
//! `--duration SECS` (default 0: run until killed; else shut down
//! gracefully after that long).
//!
//! Each connection's handler is plain blocking code: read, write back,
//! repeat. While it waits, only its coroutine is parked. Its buffer is
//! taken only once the socket is readable, so an idle connection costs its
//! coroutine's touched stack and a few bookkeeping bytes.

use std::cell::RefCell;
use std::io::{self, Write};
use std::time::Duration;

use jmpco::rt::{Runtime, TcpStream};
use jmpco::Backend;

fn main() -> io::Result<()> {
    let args = Args::parse();
    let rt = Runtime::builder()
        .worker_threads(args.threads)
        .backend(args.backend)
        .stack_size(args.stack_size)
        .build()?;
    let addr = rt.serve(args.addr.parse().expect("--addr HOST:PORT"), handle)?;
    println!(
        "echo server on {addr}: {} worker(s), backend {}, {}-byte stacks",
        rt.handle().worker_threads(),
        args.backend.name(),
        args.stack_size
    );
    println!("try: nc {} {}", addr.ip(), addr.port());
    if args.duration == 0 {
        loop {
            std::thread::park();
        }
    }
    std::thread::sleep(Duration::from_secs(args.duration));
    let report = rt.shutdown(Duration::from_secs(1));
    println!("shut down; {} task(s) cancelled", report.cancelled);
    Ok(())
}

/// Echoes until EOF or an error.
fn handle(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    loop {
        // Park holding no buffer; borrow one only while there is data.
        if stream.readable().is_err() {
            return;
        }
        let mut buf = take_buffer();
        let open = drain(&stream, &mut buf);
        give_buffer(buf);
        if !open {
            return;
        }
    }
}

/// Echoes what has arrived, until `WouldBlock`; false at EOF or an error.
fn drain(mut stream: &TcpStream, buf: &mut [u8]) -> bool {
    loop {
        match stream.try_read(buf) {
            Ok(0) => return false,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return false;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

thread_local! {
    /// Buffers of this worker not lent to a connection right now.
    static BUFFERS: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

fn take_buffer() -> Vec<u8> {
    BUFFERS
        .with(|b| b.borrow_mut().pop())
        .unwrap_or_else(|| vec![0; 16 * 1024])
}

fn give_buffer(buf: Vec<u8>) {
    BUFFERS.with(|b| b.borrow_mut().push(buf));
}

struct Args {
    addr: String,
    threads: usize,
    backend: Backend,
    stack_size: usize,
    duration: u64,
}

impl Args {
    fn parse() -> Args {
        let mut a = Args {
            addr: "127.0.0.1:7000".into(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            backend: Backend::Sjlj,
            stack_size: 16 * 1024,
            duration: 0,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || {
                it.next()
                    .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--addr" => a.addr = value(),
                "--threads" => a.threads = value().parse().unwrap_or_else(|_| usage("--threads N")),
                "--backend" => a.backend = backend(&value()),
                "--stack-size" => a.stack_size = size(&value()),
                "--duration" => {
                    a.duration = value().parse().unwrap_or_else(|_| usage("--duration SECS"))
                }
                "-h" | "--help" => usage(""),
                other => usage(&format!("unknown flag {other}")),
            }
        }
        a
    }
}

fn backend(s: &str) -> Backend {
    s.parse().unwrap_or_else(|e: String| usage(&e))
}

fn size(s: &str) -> usize {
    let (num, mul) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 1024),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 1024 * 1024),
        _ => (s, 1),
    };
    num.parse::<usize>()
        .map(|n| n * mul)
        .unwrap_or_else(|_| usage("--stack-size BYTES"))
}

/// Prints the usage (after `msg`, if any) and exits: 0 for `--help`, 2
/// for a bad command line.
fn usage(msg: &str) -> ! {
    let backends = Backend::ALL.map(Backend::name).join("|");
    let text = format!("usage: echo_server [--addr HOST:PORT] [--threads N] [--backend {backends}] [--stack-size BYTES] [--duration SECS]");
    if msg.is_empty() {
        println!("{text}");
        std::process::exit(0)
    }
    eprintln!("{msg}\n{text}");
    std::process::exit(2)
}
