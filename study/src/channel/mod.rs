//! `channel`: what a task pays to wait for another one, in three scenarios,
//! each with its contestants interleaved run by run (see `timed.rs`):
//!
//! * **`channel`** — a message round trip between two tasks of one worker
//!   through two `bounded(1)` channels: A sends, B receives and sends it
//!   back, A receives. jmpco's `rt::channel` on a one-worker runtime (sjlj
//!   and asm switches: `jmpco-sjlj`, `jmpco-asm`), tokio's `mpsc::channel(1)`
//!   between two tasks of a `current_thread` runtime (`tokio`), and std's
//!   `sync_channel(1)` between two OS threads pinned to one CPU
//!   (`std-mpsc`).
//! * **`channel-2w`** — the same round trip across two workers: jmpco on a
//!   two-worker runtime with A on worker 0 and B on worker 1
//!   (`jmpco-sjlj-mt`, `jmpco-asm-mt`), and tokio's multi-thread runtime
//!   with two workers (`tokio-mt`), which may run both tasks on one worker.
//! * **`mutex`** — a contended lock hand-off: 100 tasks on one worker each
//!   `lock`, increment, yield, unlock, over and over; jmpco's
//!   `rt::sync::Mutex` against `tokio::sync::Mutex`. Holding the lock across
//!   the yield keeps the other 99 waiting, so every acquisition is a hand-off
//!   from one task to the next.
//!
//! The runtimes are built once per contestant and kept for all its runs;
//! each run times its loop inside the runtime, after one unmeasured round
//! trip (or once every task waits on the lock), so spawning and start-up
//! stay out of the figure. Ratios are
//! against tokio's flavour of the scenario.

pub mod jmpco;
pub mod mutex;
pub mod std_mpsc;
pub mod tokio;

use std::time::Duration;

use ::jmpco::Backend;
use anyhow::Result;

use crate::progress::Progress;
use crate::record::Record;
use crate::timed::Bench;
use crate::Selection;

/// One contestant of a scenario: [`Timed::run`](crate::timed::Timed::run)
/// performs that many round trips (or lock hand-offs).
pub use crate::timed::Timed as Exchange;

/// The bench's knobs (shared by its scenarios).
pub use crate::timed::Config;

/// How many tasks contend for the mutex.
pub const MUTEX_TASKS: usize = 100;

/// The round trip between two tasks of one worker: at least 100 round
/// trips a run, calibrated by trial runs of two milliseconds.
pub const SAME_WORKER: Bench = Bench {
    name: "channel",
    metric: "round_trip_ns",
    count_key: "rounds",
    min_count: 100,
    trial: Duration::from_millis(2),
    max_count: 1 << 30,
};

/// The round trip between tasks of two workers.
pub const TWO_WORKERS: Bench = Bench {
    name: "channel-2w",
    metric: "round_trip_ns",
    count_key: "rounds",
    min_count: 100,
    trial: Duration::from_millis(2),
    max_count: 1 << 30,
};

/// The contended mutex: at least ten acquisitions per task a run.
pub const MUTEX: Bench = Bench {
    name: "mutex",
    metric: "handoff_ns",
    count_key: "handoffs",
    min_count: 10 * MUTEX_TASKS as u64,
    trial: Duration::from_millis(2),
    max_count: 1 << 30,
};

/// The two backends jmpco's runtime is measured on: its default switch
/// and its fastest.
const BACKENDS: [Backend; 2] = [Backend::Sjlj, Backend::Asm];

/// The contestants of the round trip on one worker, jmpco first.
pub fn same_worker() -> Vec<Box<dyn Exchange>> {
    let mut all: Vec<Box<dyn Exchange>> = Vec::new();
    for backend in BACKENDS {
        all.push(Box::new(jmpco::PingPong::same_worker(backend)));
    }
    all.push(Box::new(tokio::PingPong::current_thread()));
    all.push(Box::new(std_mpsc::PingPong));
    all
}

/// The contestants of the round trip across two workers.
pub fn two_workers() -> Vec<Box<dyn Exchange>> {
    let mut all: Vec<Box<dyn Exchange>> = Vec::new();
    for backend in BACKENDS {
        all.push(Box::new(jmpco::PingPong::two_workers(backend)));
    }
    all.push(Box::new(tokio::PingPong::multi_thread()));
    all
}

/// The contestants of the contended mutex.
pub fn mutex() -> Vec<Box<dyn Exchange>> {
    let mut all: Vec<Box<dyn Exchange>> = Vec::new();
    for backend in BACKENDS {
        all.push(Box::new(mutex::Jmpco::new(backend)));
    }
    all.push(Box::new(mutex::Tokio::new()));
    all
}

/// Every scenario with its contestants, in report order.
pub fn scenarios() -> Vec<(Bench, Vec<Box<dyn Exchange>>)> {
    vec![
        (SAME_WORKER, same_worker()),
        (TWO_WORKERS, two_workers()),
        (MUTEX, mutex()),
    ]
}

/// What every run of `channel-2w` should be read with.
pub const TWO_WORKERS_NOTE: &str = "channel-2w: jmpco's two tasks are pinned to different \
     workers (spawn_on(0, ..), spawn_on(1, ..)), so every message crosses threads; tokio-mt \
     spawns its two tasks on a two-worker runtime and schedules them itself, which may run both \
     on one worker (a woken task goes to its waker's LIFO slot); a wake-up on another CPU costs \
     far more once that CPU has gone idle (tens of µs on a VM), which the max column shows";

/// Runs the selected contestants of every scenario; adds the note on the
/// two-worker scenario when it ran.
pub fn run(
    config: &Config,
    select: &Selection,
    progress: &Progress,
    notes: &mut Vec<String>,
) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    for (bench, engines) in scenarios() {
        let measured = bench.run(engines, config, select, progress)?;
        if bench.name == TWO_WORKERS.name && !measured.is_empty() {
            notes.push(TWO_WORKERS_NOTE.into());
        }
        records.extend(measured);
    }
    Ok(records)
}

/// Every contestant's name, scenario by scenario (for the progress bar).
pub fn names() -> Vec<&'static str> {
    scenarios()
        .iter()
        .flat_map(|(_, engines)| engines.iter().map(|e| e.name()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contestant_of_every_scenario_runs_a_few() {
        for (bench, engines) in scenarios() {
            for mut engine in engines {
                let n = bench.min_count;
                let took = engine
                    .run(n)
                    .unwrap_or_else(|e| panic!("{} {}: {e}", bench.name, engine.name()));
                assert!(took > Duration::ZERO, "{} {}", bench.name, engine.name());
                // A second run on the same runtime.
                engine
                    .run(n + 7)
                    .unwrap_or_else(|e| panic!("{} {}: {e}", bench.name, engine.name()));
            }
        }
    }

    #[test]
    fn names_are_unique_within_a_scenario_and_jmpco_comes_first() {
        for (bench, engines) in scenarios() {
            let names: Vec<_> = engines.iter().map(|c| c.name()).collect();
            assert!(names[0].starts_with("jmpco-"), "{}: {names:?}", bench.name);
            let mut unique = names.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{}", bench.name);
        }
    }
}
