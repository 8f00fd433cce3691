//! A load client for echo servers: N connections doing fixed-size
//! ping-pong (write a message, read it back, repeat), each a coroutine on
//! the jmpco runtime. Prints requests per second and p50/p99/p999 latency.
//!
//! Run: `cargo run --release --example echo_client -- --addr 127.0.0.1:7000
//! --connections 100 --size 512 --warmup 2 --duration 10`
//!
//! Flags: `--addr HOST:PORT` (default 127.0.0.1:7000), `--connections N`
//! (100), `--size BYTES` (512), `--warmup SECS` (2), `--duration SECS`
//! (10), `--threads N` (1), `--backend sjlj|ucontext|asm` (sjlj), `--idle`
//! (only connect, echo once, and hold the connections for the duration:
//! for measuring a server's memory per idle connection).
//!
//! Output, one line: `conns=100 size=512 secs=10.0 requests=... rps=...
//! p50_us=... p99_us=... p999_us=... errors=0`.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jmpco::rt::{self, Runtime, TcpStream};
use jmpco::Backend;

struct Args {
    addr: SocketAddr,
    connections: usize,
    size: usize,
    warmup: f64,
    duration: f64,
    threads: usize,
    backend: Backend,
    idle: bool,
}

fn main() {
    let a = parse();
    raise_nofile();
    let rt = Runtime::builder()
        .worker_threads(a.threads)
        .backend(a.backend)
        .stack_size(32 * 1024)
        .build()
        .expect("runtime");
    let start = Instant::now() + Duration::from_millis(200);
    let measure_from = start + Duration::from_secs_f64(a.warmup);
    let end = measure_from + Duration::from_secs_f64(a.duration);
    let handles: Vec<_> = (0..a.connections)
        .map(|i| {
            let (addr, size, idle) = (a.addr, a.size, a.idle);
            rt.spawn(move || connection(i, addr, size, idle, measure_from, end))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for h in handles {
        match h.join() {
            Ok(Ok(mut l)) => latencies.append(&mut l),
            Ok(Err(e)) => {
                if errors == 0 {
                    eprintln!("echo_client: a connection failed: {e}");
                }
                errors += 1;
            }
            Err(e) => {
                eprintln!("echo_client: {e}");
                errors += 1;
            }
        }
    }
    if a.idle {
        println!(
            "held {} idle connections, errors={errors}",
            a.connections - errors
        );
        return;
    }
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len() - 1);
        latencies[i] as f64 / 1000.0
    };
    println!(
        "conns={} size={} secs={:.1} requests={} rps={:.0} p50_us={:.1} p99_us={:.1} p999_us={:.1} errors={errors}",
        a.connections,
        a.size,
        a.duration,
        latencies.len(),
        latencies.len() as f64 / a.duration,
        pct(0.50),
        pct(0.99),
        pct(0.999),
    );
}

/// One connection's ping-pong; returns the latencies (ns) measured after
/// the warm-up.
fn connection(
    i: usize,
    addr: SocketAddr,
    size: usize,
    idle: bool,
    measure_from: Instant,
    end: Instant,
) -> std::io::Result<Vec<u32>> {
    let mut s = TcpStream::connect_timeout(&addr, Some(Duration::from_secs(10)))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(Duration::from_secs(10)));
    let msg: Vec<u8> = (0..size).map(|j| (i + j) as u8).collect();
    let mut back = vec![0u8; size];
    if idle {
        s.write_all(&msg)?;
        s.read_exact(&mut back)?;
        rt::sleep(end.saturating_duration_since(Instant::now()));
        return Ok(Vec::new());
    }
    rt::sleep(measure_from.saturating_duration_since(Instant::now()) / 4);
    let mut latencies = Vec::new();
    loop {
        let t0 = Instant::now();
        if t0 >= end {
            return Ok(latencies);
        }
        s.write_all(&msg)?;
        s.read_exact(&mut back)?;
        if t0 >= measure_from {
            latencies.push(t0.elapsed().as_nanos().min(u32::MAX as u128) as u32);
        }
    }
}

fn raise_nofile() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit take a live rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn parse() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:7000".parse().unwrap(),
        connections: 100,
        size: 512,
        warmup: 2.0,
        duration: 10.0,
        threads: 1,
        backend: Backend::Sjlj,
        idle: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--idle" {
            a.idle = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            usage("");
        }
        let v = it
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        match flag.as_str() {
            "--addr" => a.addr = v.parse().unwrap_or_else(|_| bad(&flag)),
            "--connections" => a.connections = v.parse().unwrap_or_else(|_| bad(&flag)),
            "--size" => a.size = v.parse().unwrap_or_else(|_| bad(&flag)),
            "--warmup" => a.warmup = v.parse().unwrap_or_else(|_| bad(&flag)),
            "--duration" => a.duration = v.parse().unwrap_or_else(|_| bad(&flag)),
            "--threads" => a.threads = v.parse().unwrap_or_else(|_| bad(&flag)),
            "--backend" => a.backend = v.parse().unwrap_or_else(|e: String| usage(&e)),
            _ => usage(&format!("unknown flag {flag}")),
        }
    }
    a
}

fn bad<T>(flag: &str) -> T {
    usage(&format!("bad value for {flag}"))
}

/// Prints the usage (after `msg`, if any) and exits: 0 for `--help`, 2
/// for a bad command line.
fn usage(msg: &str) -> ! {
    let backends = Backend::ALL.map(Backend::name).join("|");
    let text = format!("usage: echo_client [--addr HOST:PORT] [--connections N] [--size BYTES] [--warmup SECS] [--duration SECS] [--threads N] [--backend {backends}] [--idle]");
    if msg.is_empty() {
        println!("{text}");
        std::process::exit(0)
    }
    eprintln!("{msg}\n{text}");
    std::process::exit(2)
}
