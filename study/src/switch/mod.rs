//! `switch`: the resume+suspend round trip, the same empty loop through
//! every contestant, in one run, with ratios against `sjlj`.
//!
//! One small engine per contestant ([`RoundTrip`]): jmpco's backends through
//! the Rust API ([`jmpco`]), the same switch functions as raw C
//! loops with no Rust in between ([`raw_c`]), two OS threads handing a turn
//! back and forth on one CPU — the kernel switch the seed notes compare
//! against ([`thread`]) — and the peer crate [`corosensei`].
//!
//! Each engine is first calibrated so that one run lasts about
//! `sample_time`, then run `runs` times; the record is ns per round trip.

pub mod corosensei;
pub mod jmpco;
pub mod raw_c;
pub mod thread;

use std::time::Duration;

use anyhow::Result;

use crate::progress::Progress;
use crate::record::Record;
use crate::{params, Selection};

/// One contestant of the round-trip bench.
pub trait RoundTrip {
    /// The contestant's name in the table and the JSON.
    fn name(&self) -> &'static str;
    /// Performs `rounds` round trips and returns how long they took.
    fn run(&mut self, rounds: u64) -> Result<Duration>;
}

/// Every contestant, the baseline (`sjlj`) first.
pub fn contestants() -> Vec<Box<dyn RoundTrip>> {
    let mut all: Vec<Box<dyn RoundTrip>> = Vec::new();
    for backend in ::jmpco::Backend::ALL {
        all.push(Box::new(jmpco::Jmpco::new(backend)));
    }
    all.push(Box::new(thread::Handoff));
    all.push(Box::new(corosensei::Corosensei));
    for backend in ::jmpco::Backend::ALL {
        all.push(Box::new(raw_c::RawC::new(backend)));
    }
    all
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
        progress.step(&format!("switch {name}"));
        let rounds = calibrate(engine.as_mut(), config.sample_time)?;
        let mut samples = Vec::with_capacity(config.runs);
        for _ in 0..config.runs {
            let took = engine.run(rounds)?;
            samples.push(took.as_nanos() as f64 / rounds as f64);
        }
        records.push(Record::new(
            "switch",
            name,
            "round_trip_ns",
            params! {"rounds" => rounds},
            &samples,
        ));
        progress.done();
    }
    Ok(records)
}

/// Rounds that make one run last about `target` (at least 100), found by
/// growing a trial run until it lasts a millisecond or more. The trial runs
/// double as the warm-up.
pub fn calibrate(engine: &mut dyn RoundTrip, target: Duration) -> Result<u64> {
    let mut rounds: u64 = 100;
    loop {
        let took = engine.run(rounds)?;
        if took >= Duration::from_millis(1) || rounds >= 1 << 34 {
            let per_round = took.as_secs_f64() / rounds as f64;
            return Ok(((target.as_secs_f64() / per_round.max(1e-12)) as u64).max(100));
        }
        rounds *= 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contestant_runs_a_few_round_trips() {
        for mut engine in contestants() {
            let took = engine
                .run(50)
                .unwrap_or_else(|e| panic!("{}: {e}", engine.name()));
            assert!(took > Duration::ZERO, "{}", engine.name());
        }
    }

    #[test]
    fn contestant_names_are_unique_and_sjlj_comes_first() {
        let names: Vec<_> = contestants().iter().map(|c| c.name()).collect();
        assert_eq!(names[0], "sjlj");
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }
}
