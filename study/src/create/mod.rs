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

use std::time::{Duration, Instant};

use ::jmpco::Backend;
use anyhow::Result;

use crate::progress::Progress;
use crate::record::Record;
use crate::{params, Selection};

/// One contestant of the creation bench.
pub trait Create {
    /// The contestant's name in the table and the JSON.
    fn name(&self) -> &'static str;
    /// Creates, runs to completion and drops `count` units; returns the time.
    fn run(&mut self, count: u64) -> Result<Duration>;
}

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
#[derive(Clone, Debug)]
pub struct Config {
    /// Runs per contestant.
    pub runs: usize,
    /// Target duration of one run.
    pub sample_time: Duration,
}

/// Runs the selected contestants.
pub fn run(config: &Config, select: &Selection, progress: &Progress) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    for mut engine in contestants() {
        let name = engine.name();
        if !select.wants(name) {
            continue;
        }
        progress.step(&format!("create {name}"));
        let count = calibrate(engine.as_mut(), config.sample_time)?;
        let mut samples = Vec::with_capacity(config.runs);
        for _ in 0..config.runs {
            let took = engine.run(count)?;
            samples.push(took.as_nanos() as f64 / count as f64);
        }
        records.push(Record::new(
            "create",
            name,
            "create_ns",
            params! {"count" => count},
            &samples,
        ));
        progress.done();
    }
    Ok(records)
}

/// How many creations make one run last about `target` (at least 10).
fn calibrate(engine: &mut dyn Create, target: Duration) -> Result<u64> {
    let mut count: u64 = 10;
    loop {
        let start = Instant::now();
        engine.run(count)?;
        let took = start.elapsed();
        if took >= Duration::from_millis(2) || count >= 1 << 30 {
            let per = took.as_secs_f64() / count as f64;
            return Ok(((target.as_secs_f64() / per.max(1e-12)) as u64).max(10));
        }
        count *= 8;
    }
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
