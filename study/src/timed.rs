//! The loop shared by the `switch` and `create` benches: calibrate each
//! contestant so one run lasts about `sample_time`, run it `runs` times,
//! and record nanoseconds per operation.

use std::time::Duration;

use anyhow::Result;

use crate::progress::Progress;
use crate::record::Record;
use crate::{params, Selection};

/// A contestant that performs `n` operations in one call and says how long
/// they took.
pub trait Timed {
    /// The contestant's name in the table and the JSON.
    fn name(&self) -> &'static str;
    /// Performs `n` operations and returns how long they took.
    fn run(&mut self, n: u64) -> Result<Duration>;
}

/// A bench's knobs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Runs per contestant.
    pub runs: usize,
    /// Target duration of one run.
    pub sample_time: Duration,
}

/// What a bench records and how it calibrates.
pub struct Bench {
    /// The bench's name (`switch`, `create`).
    pub name: &'static str,
    /// The metric recorded, ns per operation.
    pub metric: &'static str,
    /// The params key holding the operation count of one run.
    pub count_key: &'static str,
    /// The fewest operations of one run.
    pub min_count: u64,
    /// Calibration grows a trial run until it lasts this long.
    pub trial: Duration,
    /// ... or reaches this many operations.
    pub max_count: u64,
}

impl Bench {
    /// Runs the selected `engines`.
    pub fn run(
        &self,
        engines: Vec<Box<dyn Timed>>,
        config: &Config,
        select: &Selection,
        progress: &Progress,
    ) -> Result<Vec<Record>> {
        let mut records = Vec::new();
        for mut engine in engines {
            let name = engine.name();
            if !select.wants(name) {
                continue;
            }
            progress.step(&format!("{} {name}", self.name));
            let count = self.calibrate(engine.as_mut(), config.sample_time)?;
            let mut samples = Vec::with_capacity(config.runs);
            for _ in 0..config.runs {
                let took = engine.run(count)?;
                samples.push(took.as_nanos() as f64 / count as f64);
            }
            records.push(Record::new(
                self.name,
                name,
                self.metric,
                params! {self.count_key => count},
                &samples,
            ));
            progress.done();
        }
        Ok(records)
    }

    /// Operations that make one run last about `target` (at least
    /// `min_count`), found by growing a trial run by 8× until it lasts
    /// `trial` or more. The trial runs double as the warm-up.
    pub fn calibrate(&self, engine: &mut dyn Timed, target: Duration) -> Result<u64> {
        let mut count = self.min_count;
        loop {
            let took = engine.run(count)?;
            if took >= self.trial || count >= self.max_count {
                let per = took.as_secs_f64() / count as f64;
                return Ok(((target.as_secs_f64() / per.max(1e-12)) as u64).max(self.min_count));
            }
            count *= 8;
        }
    }
}
