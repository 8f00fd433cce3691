//! The loop shared by the `switch` and `create` benches: calibrate each
//! contestant so one run lasts about `sample_time`, run them all `runs`
//! times, round-robin, and record nanoseconds per operation.

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
    /// Runs the selected `engines`: calibrates each, then makes `runs`
    /// rounds in which every engine runs once, in turn. Interleaving the
    /// runs means a machine that changes speed part-way (a busy sibling
    /// hyperthread, frequency steps) slows every contestant alike, so the
    /// ratios of one invocation stay fair; back-to-back runs of one engine
    /// would put the whole slowdown on whoever ran then.
    pub fn run(
        &self,
        engines: Vec<Box<dyn Timed>>,
        config: &Config,
        select: &Selection,
        progress: &Progress,
    ) -> Result<Vec<Record>> {
        let mut chosen = Vec::new();
        for mut engine in engines {
            let name = engine.name();
            if !select.wants(name) {
                continue;
            }
            progress.step(&format!("{} {name}", self.name));
            let count = self.calibrate(engine.as_mut(), config.sample_time)?;
            chosen.push((engine, count, Vec::with_capacity(config.runs)));
            progress.done();
        }
        for _ in 0..config.runs {
            for (engine, count, samples) in &mut chosen {
                let took = engine.run(*count)?;
                samples.push(took.as_nanos() as f64 / *count as f64);
            }
        }
        Ok(chosen
            .into_iter()
            .map(|(engine, count, samples)| {
                Record::new(
                    self.name,
                    engine.name(),
                    self.metric,
                    params! {self.count_key => count},
                    &samples,
                )
            })
            .collect())
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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::*;

    /// Logs every run with its count; one operation takes 1 µs.
    struct Logged {
        name: &'static str,
        log: Rc<RefCell<Vec<(&'static str, u64)>>>,
    }

    impl Timed for Logged {
        fn name(&self) -> &'static str {
            self.name
        }

        fn run(&mut self, n: u64) -> Result<Duration> {
            self.log.borrow_mut().push((self.name, n));
            Ok(Duration::from_micros(n))
        }
    }

    #[test]
    fn runs_are_interleaved_round_robin_and_skip_unselected_engines() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let engines: Vec<Box<dyn Timed>> = ["a", "b", "c"]
            .into_iter()
            .map(|name| {
                Box::new(Logged {
                    name,
                    log: Rc::clone(&log),
                }) as Box<dyn Timed>
            })
            .collect();
        let bench = Bench {
            name: "test",
            metric: "ns",
            count_key: "n",
            min_count: 100,
            trial: Duration::from_millis(1),
            max_count: 1 << 20,
        };
        let config = Config {
            runs: 3,
            sample_time: Duration::from_millis(2),
        };
        let select = Selection::only(vec!["a".into(), "c".into()]);
        let records = bench
            .run(engines, &config, &select, &Progress::hidden())
            .unwrap();
        // Calibration: trials of 100, 800, 6400 operations until one lasts
        // 1 ms, so a 2 ms run is 2000 operations. Then the measured runs.
        let measured: Vec<_> = log
            .borrow()
            .iter()
            .filter(|(_, n)| *n == 2000)
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(measured, ["a", "c", "a", "c", "a", "c"]);
        let names: Vec<_> = records.iter().map(|r| r.contestant.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
    }
}
