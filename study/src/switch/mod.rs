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
//! `sample_time`; then every engine runs once per round, `runs` rounds
//! (interleaved, see `timed.rs`); the record is ns per round trip.

pub mod corosensei;
pub mod jmpco;
pub mod raw_c;
pub mod thread;

use std::time::Duration;

use anyhow::Result;

use crate::progress::Progress;
use crate::record::Record;
use crate::timed::Bench;
use crate::Selection;

/// One contestant of this bench: [`Timed::run`](crate::timed::Timed::run) performs that many round trips.
pub use crate::timed::Timed as RoundTrip;

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
pub use crate::timed::Config;

/// The round-trip bench: at least 100 round trips a run, calibrated by
/// trial runs of a millisecond.
pub const BENCH: Bench = Bench {
    name: "switch",
    metric: "round_trip_ns",
    count_key: "rounds",
    min_count: 100,
    trial: Duration::from_millis(1),
    max_count: 1 << 34,
};

/// Runs the selected contestants.
pub fn run(config: &Config, select: &Selection, progress: &Progress) -> Result<Vec<Record>> {
    BENCH.run(contestants(), config, select, progress)
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
