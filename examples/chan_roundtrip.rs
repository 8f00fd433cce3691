//! A message round trip between two tasks through two `bounded(1)`
//! channels: the pinger sends on `ping` and receives on `pong`, the echoer
//! sends each message back. The exchange of `jmpco-study channel`, with a
//! fixed number of rounds, so that runs of N and 2N rounds under
//! `valgrind --tool=callgrind` can be differenced (start-up cancels) and
//! `strace -f -c` counts its system calls; Rust's twin of
//! `examples/c/chan_roundtrip.c`.
//!
//! Run: `cargo run --release --example chan_roundtrip -- [ROUNDS [BACKEND [WORKERS]]]`
//!
//! * `ROUNDS`: default 1,000,000;
//! * `BACKEND`: `sjlj`, `asm` or `ucontext` (default: jmpco's default);
//! * `WORKERS`: 1 (both tasks on one worker, the default) or 2 (one task on
//!   each: every message crosses threads).
//!
//! Prints the mean time of a round trip.

use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use jmpco::rt::{channel, Runtime};
use jmpco::Backend;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: u64 = match args.first().map(|s| s.parse()) {
        None => 1_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => return usage("ROUNDS must be a positive integer"),
    };
    let backend: Backend = match args.get(1).map(|s| s.parse()) {
        None => Backend::default(),
        Some(Ok(b)) => b,
        Some(Err(e)) => return usage(&format!("BACKEND: {e}")),
    };
    let workers: usize = match args.get(2).map(String::as_str) {
        None | Some("1") => 1,
        Some("2") => 2,
        Some(_) => return usage("WORKERS must be 1 or 2"),
    };
    match round_trip(rounds, backend, workers) {
        Ok(took) => {
            println!(
                "{backend}, {workers} worker(s): {:.1} ns per round trip ({rounds} rounds)",
                took.as_nanos() as f64 / rounds as f64
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chan_roundtrip: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `rounds` round trips on a runtime of `workers` workers (1: both
/// tasks on worker 0; 2: the echoer on worker 1); the pinger's time.
pub fn round_trip(rounds: u64, backend: Backend, workers: usize) -> io::Result<Duration> {
    let rt = Runtime::builder()
        .worker_threads(workers)
        .backend(backend)
        .build()?;
    let (ping_tx, ping_rx) = channel::bounded::<u64>(1);
    let (pong_tx, pong_rx) = channel::bounded::<u64>(1);
    let echoer = rt.handle().spawn_on(workers - 1, move || {
        for message in ping_rx.iter() {
            if pong_tx.send(message).is_err() {
                return;
            }
        }
    });
    let pinger = rt.handle().spawn_on(0, move || {
        let start = Instant::now();
        for i in 0..rounds {
            ping_tx.send(i).expect("the echoer receives until the end");
            assert_eq!(pong_rx.recv(), Ok(i), "the echo of message {i}");
        }
        start.elapsed()
    });
    let took = pinger.join().expect("the pinger");
    echoer.join().expect("the echoer");
    Ok(took)
}

fn usage(why: &str) -> ExitCode {
    eprintln!("chan_roundtrip: {why}\nusage: chan_roundtrip [ROUNDS [BACKEND [WORKERS]]]");
    ExitCode::from(2)
}
