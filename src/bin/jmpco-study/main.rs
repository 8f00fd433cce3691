//! `jmpco-study`, quick preset: the resume+suspend round trip of every
//! backend side by side, through the Rust API and as the raw C loop, with an
//! OS-thread hand-off (the kernel switch the seed notes compare against);
//! then the memory of parked coroutines.
//!
//! Run: `cargo run --release` (add `-- --rounds N` to change the loop
//! length, `--parked N` the number of parked coroutines). Each round-trip
//! contestant runs 5 times; the table shows medians and the ratio to sjlj
//! through the Rust API, all from this one run.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use jmpco::stack::Stack;
use jmpco::{Backend, Coroutine, Yielder};

/// Runs of each contestant; the table reports the median.
const RUNS: usize = 5;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let options = parse_options()?;
    let wanted = |name: &str| {
        options
            .only
            .as_deref()
            .is_none_or(|part| name.contains(part))
    };
    print_header();
    let mut rows: Vec<(String, f64)> = Vec::new();
    for backend in Backend::ALL {
        let (name, n) = (
            format!("rust {backend}"),
            rounds_for(backend, options.rounds),
        );
        if wanted(&name) {
            rows.push((name, median_ns(n, rust_round_trips(backend))?));
        }
    }
    for backend in Backend::ALL {
        let (name, n) = (
            format!("raw C {backend}"),
            rounds_for(backend, options.rounds),
        );
        if wanted(&name) {
            rows.push((name, median_ns(n, c_round_trips(backend))?));
        }
    }
    let name = "OS threads (hand-off)";
    if wanted(name) {
        let n = (options.rounds / 100).max(1_000);
        rows.push((name.into(), median_ns(n, thread_round_trips)?));
    }
    if let Some(&(_, baseline)) = rows.first() {
        println!(
            "{:<24} {:>14} {:>10}",
            "round trip", "median ns", "vs first"
        );
        for (name, ns) in &rows {
            println!("{name:<24} {ns:>14.1} {:>9.1}x", ns / baseline);
        }
    }

    let parked: Vec<_> = Backend::ALL
        .into_iter()
        .map(|b| (b, format!("{} x {b}", options.parked)))
        .filter(|(_, name)| wanted(name))
        .collect();
    if !parked.is_empty() {
        println!(
            "\n{:<24} {:>14} {:>10}",
            "parked coroutines", "RSS KiB each", "mappings"
        );
    }
    for (backend, name) in parked {
        let (kib, maps) = parked_memory(backend, options.parked)?;
        println!("{name:<24} {kib:>14.2} {maps:>10}");
    }
    Ok(())
}

/// Parks `count` coroutines (each suspended once, default stack size) and
/// returns the resident memory each adds, in KiB, and the process's mapping
/// count while they are alive.
fn parked_memory(backend: Backend, count: usize) -> Result<(f64, usize)> {
    let before = resident_kib()?;
    let mut parked = Vec::with_capacity(count);
    for _ in 0..count {
        let mut co = Coroutine::builder()
            .backend(backend)
            .build(|y: &Yielder<(), ()>, ()| y.suspend(()))?;
        co.resume(());
        parked.push(co);
    }
    let after = resident_kib()?;
    let maps = std::fs::read_to_string("/proc/self/maps")?.lines().count();
    drop(parked);
    Ok(((after - before) as f64 / count as f64, maps))
}

/// This process's resident set, from /proc/self/statm.
fn resident_kib() -> Result<i64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: i64 = statm
        .split_whitespace()
        .nth(1)
        .ok_or("malformed /proc/self/statm")?
        .parse()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Ok(pages * page / 1024)
}

struct Options {
    rounds: u64,
    parked: usize,
    /// Run only the contestants whose name contains this.
    only: Option<String>,
}

fn parse_options() -> Result<Options> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        rounds: 2_000_000,
        parked: 100_000,
        only: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => options.rounds = number(&arg, args.next())?,
            "--parked" => options.parked = number(&arg, args.next())?,
            "--only" => options.only = Some(args.next().ok_or("--only needs a name")?),
            "-h" | "--help" => {
                println!("usage: jmpco-study [--rounds N] [--parked N] [--only NAME-PART]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    Ok(options)
}

fn number<T: std::str::FromStr>(flag: &str, value: Option<String>) -> Result<T> {
    let value = value.ok_or_else(|| format!("{flag} needs a number"))?;
    value
        .parse()
        .map_err(|_| format!("{flag}: {value:?} is not a number").into())
}

/// ucontext makes a system call per switch: a tenth of the rounds is plenty.
fn rounds_for(backend: Backend, rounds: u64) -> u64 {
    match backend {
        Backend::Ucontext => (rounds / 10).max(1_000),
        Backend::Sjlj | Backend::Asm => rounds,
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
        resume_loop(&mut co, rounds);
        Ok(())
    }
}

/// The measured loop, kept out of line so an instruction counter can be
/// pointed at it: `valgrind --tool=callgrind --toggle-collect='*resume_loop*'`.
#[inline(never)]
fn resume_loop(co: &mut Coroutine<(), (), ()>, rounds: u64) {
    for _ in 0..rounds {
        black_box(co.resume(()));
    }
}

fn c_round_trips(backend: Backend) -> impl FnMut(u64) -> Result<()> {
    move |rounds| Ok(backend.raw_c_round_trips(&mut Stack::pooled(64 * 1024)?, rounds)?)
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
