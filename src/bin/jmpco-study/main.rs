//! `jmpco-study`, quick preset: the resume+suspend round trip of every
//! backend side by side, through the Rust API and as the raw C loop, with an
//! OS-thread hand-off (the kernel switch the seed notes compare against).
//!
//! Run: `cargo run --release` (add `-- --rounds N` to change the loop
//! length). Each contestant runs 5 times; the table shows medians and the
//! ratio to sjlj through the Rust API, all from this one run.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use jmpco::stack::Stack;
use jmpco::{sys, Backend, Coroutine, Yielder};

/// Runs of each contestant; the table reports the median.
const RUNS: usize = 5;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let rounds = parse_rounds()?;
    print_header();
    let mut rows: Vec<(String, f64)> = Vec::new();
    for backend in Backend::ALL {
        let n = rounds_for(backend, rounds);
        rows.push((
            format!("rust {backend}"),
            median_ns(n, rust_round_trips(backend))?,
        ));
    }
    for backend in Backend::ALL {
        let n = rounds_for(backend, rounds);
        rows.push((
            format!("raw C {backend}"),
            median_ns(n, c_round_trips(backend))?,
        ));
    }
    let n = (rounds / 100).max(1_000);
    rows.push((
        "OS threads (hand-off)".into(),
        median_ns(n, thread_round_trips)?,
    ));

    let baseline = rows[0].1;
    println!("{:<24} {:>14} {:>10}", "round trip", "median ns", "vs sjlj");
    for (name, ns) in &rows {
        println!("{name:<24} {ns:>14.1} {:>9.1}x", ns / baseline);
    }
    Ok(())
}

fn parse_rounds() -> Result<u64> {
    let mut args = std::env::args().skip(1);
    let mut rounds = 2_000_000;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => {
                let value = args.next().ok_or("--rounds needs a number")?;
                rounds = value
                    .parse()
                    .map_err(|_| format!("--rounds: {value:?} is not a number"))?;
            }
            "-h" | "--help" => {
                println!("usage: jmpco-study [--rounds N]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    Ok(rounds)
}

/// ucontext makes a system call per switch: a tenth of the rounds is plenty.
fn rounds_for(backend: Backend, rounds: u64) -> u64 {
    match backend {
        Backend::Sjlj => rounds,
        Backend::Ucontext => (rounds / 10).max(1_000),
    }
}

/// Runs `run(rounds)` RUNS times and returns the median ns per round trip.
fn median_ns(rounds: u64, mut run: impl FnMut(u64) -> Result<()>) -> Result<f64> {
    run(rounds / 10 + 1)?; // warm up: stacks, caches, branch predictors
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        run(rounds)?;
        samples.push(start.elapsed().as_nanos() as f64 / rounds as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[RUNS / 2])
}

fn rust_round_trips(backend: Backend) -> impl FnMut(u64) -> Result<()> {
    move |rounds| {
        let mut co = Coroutine::builder()
            .backend(backend)
            .build(|y: &Yielder<(), ()>, ()| loop {
                y.suspend(())
            })?;
        for _ in 0..rounds {
            black_box(co.resume(()));
        }
        Ok(())
    }
}

fn c_round_trips(backend: Backend) -> impl FnMut(u64) -> Result<()> {
    move |rounds| {
        let stack = Stack::pooled(64 * 1024)?;
        // SAFETY: the stack is ours and unused; the C loop leaves its
        // coroutine suspended in it, which needs no cleanup.
        let rc = unsafe {
            match backend {
                Backend::Sjlj => sys::jmpco_bench_sjlj_round_trips(stack.top().cast(), rounds),
                Backend::Ucontext => {
                    sys::jmpco_bench_ucontext_round_trips(stack.top().cast(), stack.size(), rounds)
                }
            }
        };
        if rc != 0 {
            return Err(format!("the raw C {backend} loop could not set up its context").into());
        }
        Ok(())
    }
}

/// Two threads handing a turn back and forth with park/unpark: each round
/// trip is two kernel wake-ups.
fn thread_round_trips(rounds: u64) -> Result<()> {
    let turn = Arc::new(AtomicBool::new(false)); // false: main's turn
    let main = std::thread::current();
    let peer_turn = turn.clone();
    let peer = std::thread::spawn(move || {
        for _ in 0..rounds {
            while !peer_turn.load(Ordering::Acquire) {
                std::thread::park();
            }
            peer_turn.store(false, Ordering::Release);
            main.unpark();
        }
    });
    for _ in 0..rounds {
        turn.store(true, Ordering::Release);
        peer.thread().unpark();
        while turn.load(Ordering::Acquire) {
            std::thread::park();
        }
    }
    peer.join().map_err(|_| "the peer thread panicked")?;
    Ok(())
}

fn print_header() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!("jmpco-study (quick preset: switch round trips)");
    println!("machine: {cpu}, {cores} cores, Linux {kernel}");
    println!("build:   {profile}; C shim -O2/-O3 -U_FORTIFY_SOURCE; {RUNS} runs each, median\n");
}
