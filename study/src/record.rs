//! One measured figure ([`Record`]) and the summary of repeated runs that
//! produces it: the rows of the table, the entries of `--json`'s `results`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A figure: one metric of one contestant in one bench, summarised over
/// `runs` repetitions (median, min, max).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// `switch`, `create`, `memory`, `echo`, `echo-slow` or `http`.
    pub bench: String,
    /// Who was measured: `sjlj`, `thread`, `tokio`, ...
    pub contestant: String,
    /// What was measured, with its unit in the name: `round_trip_ns`, ...
    pub metric: String,
    /// The workload: `connections`, `size`, `count`, ...
    pub params: Map<String, Value>,
    /// Median over the runs.
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
    /// How many runs the summary is over.
    pub runs: usize,
}

impl Record {
    /// Summarises `samples` (at least one) as a record.
    ///
    /// # Panics
    /// If `samples` is empty.
    pub fn new(
        bench: &str,
        contestant: &str,
        metric: &str,
        params: Map<String, Value>,
        samples: &[f64],
    ) -> Record {
        let s = Summary::of(samples);
        Record {
            bench: bench.into(),
            contestant: contestant.into(),
            metric: metric.into(),
            params,
            median: s.median,
            min: s.min,
            max: s.max,
            runs: samples.len(),
        }
    }

    /// The value of parameter `key` as an integer, if it is one.
    pub fn param_u64(&self, key: &str) -> Option<u64> {
        self.params.get(key).and_then(Value::as_u64)
    }
}

/// Median, min and max of a set of samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The middle sample (the mean of the two middle ones for an even count).
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
}

impl Summary {
    /// Summarises `samples`.
    ///
    /// # Panics
    /// If `samples` is empty.
    pub fn of(samples: &[f64]) -> Summary {
        assert!(!samples.is_empty(), "a summary needs at least one sample");
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Summary {
            median,
            min: sorted[0],
            max: sorted[n - 1],
        }
    }
}

/// Builds a `params` map: `params!{"connections" => 100, "size" => 512}`.
#[macro_export]
macro_rules! params {
    ($($key:expr => $value:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut map = serde_json::Map::new();
        $(map.insert($key.to_string(), serde_json::json!($value));)*
        map
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(Summary::of(&[3.0, 1.0, 2.0]).median, 2.0);
        assert_eq!(Summary::of(&[4.0, 1.0, 2.0, 3.0]).median, 2.5);
        let s = Summary::of(&[5.0, -1.0, 2.0]);
        assert_eq!((s.min, s.max), (-1.0, 5.0));
    }

    #[test]
    fn record_counts_its_runs_and_keeps_params() {
        let r = Record::new(
            "switch",
            "sjlj",
            "round_trip_ns",
            params! {"rounds" => 10},
            &[1.0, 2.0],
        );
        assert_eq!(r.runs, 2);
        assert_eq!(r.param_u64("rounds"), Some(10));
    }
}
