//! `create`: make a unit of concurrency, run it to its end once, and throw
//! it away — create + first resume + finish — through every contestant.
//!
//! One engine per contestant ([`Create`]): jmpco with a pooled stack (no
//! system call once warm) and a fresh one (an `mmap`, a guard, an `munmap`),
//! per backend ([`jmpco`]); an OS thread spawned and joined
//! ([`thread`]); corosensei with its default fresh stack and with a reused
//! one ([`corosensei`]). Ratios against `sjlj-pooled`.

pub mod corosensei;
pub mod jmpco;
pub mod thread;

use std::time::Duration;

use ::jmpco::Backend;
use anyhow::Result;

use crate::progress::Progress;
use crate::record::Record;
use crate::timed::Bench;
use crate::Selection;

/// One contestant of this bench: [`Timed::run`](crate::timed::Timed::run) creates, runs to completion and drops that many units.
pub use crate::timed::Timed as Create;

/// Every contestant, the baseline (`sjlj-pooled`) first.
pub fn contestants() -> Vec<Box<dyn Create>> {
    vec![
        Box::new(jmpco::Jmpco::new("sjlj-pooled", Backend::Sjlj, true)),
        Box::new(jmpco::Jmpco::new("sjlj-fresh", Backend::Sjlj, false)),
        Box::new(jmpco::Jmpco::new(
            "ucontext-pooled",
            Backend::Ucontext,
            true,
        )),
        Box::new(jmpco::Jmpco::new("asm-pooled", Backend::Asm, true)),
        Box::new(thread::SpawnJoin),
        Box::new(corosensei::Corosensei::fresh()),
        Box::new(corosensei::Corosensei::reused()),
    ]
}

/// The bench's knobs.
pub use crate::timed::Config;

/// The creation bench: at least 10 creations a run, calibrated by trial
/// runs of two milliseconds.
pub const BENCH: Bench = Bench {
    name: "create",
    metric: "create_ns",
    count_key: "count",
    min_count: 10,
    trial: Duration::from_millis(2),
    max_count: 1 << 30,
};

/// Runs the selected contestants.
pub fn run(config: &Config, select: &Selection, progress: &Progress) -> Result<Vec<Record>> {
    BENCH.run(contestants(), config, select, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contestant_creates_and_finishes_a_few() {
        for mut engine in contestants() {
            if let Err(e) = engine.run(5) {
                panic!("{}: {e}", engine.name());
            }
        }
    }
}
