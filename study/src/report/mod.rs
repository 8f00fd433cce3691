//! The study's outputs: a [`Study`] (machine, build, results, notes) and its
//! renderings — the terminal [`table`], the [`json`] file, an [`svg`] chart
//! per bench and the [`markdown`] report that sets each claim of the notes
//! beside the figure measured.
//!
//! How each bench is shown lives in one place, [`VIEWS`]: its columns, the
//! metric its ratios and chart use, its baseline and its chart's question;
//! who each contestant is (jmpco, the notes' designs, a peer) lives in
//! [`FAMILIES`].

pub mod json;
pub mod markdown;
pub mod svg;
pub mod table;

use serde::{Deserialize, Serialize};

use crate::machine::{Build, Machine};
use crate::record::Record;

/// One run of the study.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Study {
    /// Where it ran.
    pub machine: Machine,
    /// How it was built.
    pub build: Build,
    /// `quick` or `full`.
    pub preset: String,
    /// The command line.
    pub command: String,
    /// Wall time of the measurements, seconds.
    pub wall_s: f64,
    /// Every figure.
    pub results: Vec<Record>,
    /// What was skipped or is worth knowing.
    pub notes: Vec<String>,
}

impl Study {
    /// The record of `bench`/`contestant`/`metric` whose params hold
    /// `connections` (when given).
    pub fn find(
        &self,
        bench: &str,
        contestant: &str,
        metric: &str,
        connections: Option<u64>,
    ) -> Option<&Record> {
        self.results.iter().find(|r| {
            r.bench == bench
                && r.contestant == contestant
                && r.metric == metric
                && connections.is_none_or(|c| r.param_u64("connections") == Some(c))
        })
    }

    /// The median of [`find`](Self::find).
    pub fn median(
        &self,
        bench: &str,
        contestant: &str,
        metric: &str,
        connections: Option<u64>,
    ) -> Option<f64> {
        self.find(bench, contestant, metric, connections)
            .map(|r| r.median)
    }
}

/// Which summary of a record a column shows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Field {
    /// The median.
    Median,
    /// The smallest run.
    Min,
    /// The largest run.
    Max,
}

/// A column of a bench's table.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The metric shown.
    pub metric: &'static str,
    /// Its summary.
    pub field: Field,
    /// The header.
    pub header: &'static str,
    /// Decimals printed.
    pub decimals: usize,
}

const fn col(metric: &'static str, field: Field, header: &'static str, decimals: usize) -> Column {
    Column {
        metric,
        field,
        header,
        decimals,
    }
}

/// Who a contestant is: the charts give each family one colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// jmpco's own switches and runtime: sjlj, asm, coro-sjlj, ...
    Jmpco,
    /// The designs of the seed notes jmpco is set against: ucontext, OS
    /// threads (std's channel between two of them too), the synchronous
    /// epoll loop, thread-per-connection, the thread pool.
    Notes,
    /// Other crates doing the same job: corosensei, tokio.
    Peer,
}

impl Family {
    /// Every family, in legend order.
    pub const ALL: [Family; 3] = [Family::Jmpco, Family::Notes, Family::Peer];

    /// The legend's name for it.
    pub fn label(self) -> &'static str {
        match self {
            Family::Jmpco => "jmpco",
            Family::Notes => "the notes' designs",
            Family::Peer => "peer crates",
        }
    }
}

/// Every contestant's family, by the name it has in the records. A
/// contestant on the ucontext switch is the notes' design even when jmpco
/// runs it (`coro-ucontext`); the raw C loops go with their switch.
pub const FAMILIES: &[(&str, Family)] = &[
    ("sjlj", Family::Jmpco),
    ("asm", Family::Jmpco),
    ("raw-c-sjlj", Family::Jmpco),
    ("raw-c-asm", Family::Jmpco),
    ("sjlj-pooled", Family::Jmpco),
    ("sjlj-fresh", Family::Jmpco),
    ("asm-pooled", Family::Jmpco),
    ("coro-sjlj", Family::Jmpco),
    ("coro-asm", Family::Jmpco),
    ("coro-sjlj-mt", Family::Jmpco),
    ("jmpco", Family::Jmpco),
    ("jmpco-sjlj", Family::Jmpco),
    ("jmpco-asm", Family::Jmpco),
    ("jmpco-sjlj-mt", Family::Jmpco),
    ("jmpco-asm-mt", Family::Jmpco),
    ("ucontext", Family::Notes),
    ("raw-c-ucontext", Family::Notes),
    ("ucontext-pooled", Family::Notes),
    ("coro-ucontext", Family::Notes),
    ("thread", Family::Notes),
    ("sync", Family::Notes),
    ("thread-per-conn", Family::Notes),
    ("thread-pool", Family::Notes),
    ("std-mpsc", Family::Notes),
    ("corosensei", Family::Peer),
    ("corosensei-reused", Family::Peer),
    ("tokio", Family::Peer),
    ("tokio-mt", Family::Peer),
];

/// The family of `contestant`, if [`FAMILIES`] names it.
pub fn family(contestant: &str) -> Option<Family> {
    FAMILIES
        .iter()
        .find(|(name, _)| *name == contestant)
        .map(|&(_, f)| f)
}

/// The unit of a chart's metric, for its ticks and value labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds: printed as ns, µs, ms or s.
    Nanos,
    /// Microseconds: printed as ns, µs, ms or s.
    Micros,
    /// Requests per second: printed as `91.2k req/s`.
    PerSecond,
    /// KiB.
    Kib,
    /// A count (instructions): printed as `12.3k`.
    Count,
}

/// How a bench's chart reads.
#[derive(Clone, Copy, Debug)]
pub struct Chart {
    /// The question the chart answers, its title.
    pub question: &'static str,
    /// What the axis measures (the unit and scale are added).
    pub axis: &'static str,
    /// The primary metric's unit.
    pub unit: Unit,
    /// A metric drawn on top of the primary one, lighter, and what it is
    /// (memory: the thread's kernel stack, beside its RSS).
    pub stacked: Option<(&'static str, &'static str)>,
    /// A bench whose figure for the same contestant, connection count and
    /// metric is marked on each bar, and what the mark means (the slow
    /// client: the p99 without it).
    pub reference: Option<(&'static str, &'static str)>,
}

/// How a bench is shown.
#[derive(Clone, Copy, Debug)]
pub struct View {
    /// The bench's name in the records.
    pub bench: &'static str,
    /// A title for tables and charts.
    pub title: &'static str,
    /// The param rows are grouped by (ratios are within a group).
    pub group_by: Option<&'static str>,
    /// The metric of the ratio column and the chart.
    pub primary: &'static str,
    /// Baseline candidates, first present wins (else the group's first row).
    pub baselines: &'static [&'static str],
    /// The table's columns after the contestant.
    pub columns: &'static [Column],
    /// Its chart.
    pub chart: Chart,
}

use Field::{Max, Median, Min};

/// Every bench's view, in report order.
pub const VIEWS: [View; 11] = [
    View {
        bench: "switch",
        title: "round trip (resume + suspend), ns",
        group_by: None,
        primary: "round_trip_ns",
        baselines: &["sjlj"],
        columns: &[
            col("round_trip_ns", Median, "median ns", 1),
            col("round_trip_ns", Min, "min", 1),
            col("round_trip_ns", Max, "max", 1),
        ],
        chart: Chart {
            question: "How long does a switch take? One resume + suspend round trip",
            axis: "round trip",
            unit: Unit::Nanos,
            stacked: None,
            reference: None,
        },
    },
    View {
        bench: "create",
        title: "create + first resume + finish, ns",
        group_by: None,
        primary: "create_ns",
        baselines: &["sjlj-pooled"],
        columns: &[
            col("create_ns", Median, "median ns", 1),
            col("create_ns", Min, "min", 1),
            col("create_ns", Max, "max", 1),
        ],
        chart: Chart {
            question: "How long does it take to create one, run it once and finish it?",
            axis: "create + first resume + finish",
            unit: Unit::Nanos,
            stacked: None,
            reference: None,
        },
    },
    View {
        bench: "channel",
        title: "channel round trip, two tasks on one worker, bounded(1), ns",
        group_by: None,
        primary: "round_trip_ns",
        baselines: &["tokio"],
        columns: &[
            col("round_trip_ns", Median, "median ns", 1),
            col("round_trip_ns", Min, "min", 1),
            col("round_trip_ns", Max, "max", 1),
        ],
        chart: Chart {
            question:
                "How long does a message take there and back between two tasks of one worker?",
            axis: "round trip through two bounded(1) channels",
            unit: Unit::Nanos,
            stacked: None,
            reference: None,
        },
    },
    View {
        bench: "channel-2w",
        title: "channel round trip, two tasks on two workers, bounded(1), ns",
        group_by: None,
        primary: "round_trip_ns",
        baselines: &["tokio-mt"],
        columns: &[
            col("round_trip_ns", Median, "median ns", 1),
            col("round_trip_ns", Min, "min", 1),
            col("round_trip_ns", Max, "max", 1),
        ],
        chart: Chart {
            question: "How long does a message take there and back between tasks of two workers?",
            axis: "round trip through two bounded(1) channels",
            unit: Unit::Nanos,
            stacked: None,
            reference: None,
        },
    },
    View {
        bench: "mutex",
        title: "mutex, 100 tasks on one worker: ns per lock hand-off",
        group_by: None,
        primary: "handoff_ns",
        baselines: &["tokio"],
        columns: &[
            col("handoff_ns", Median, "median ns", 1),
            col("handoff_ns", Min, "min", 1),
            col("handoff_ns", Max, "max", 1),
        ],
        chart: Chart {
            question: "How long does a contended lock take to pass from one task to the next?",
            axis: "lock hand-off among 100 tasks",
            unit: Unit::Nanos,
            stacked: None,
            reference: None,
        },
    },
    View {
        bench: "memory",
        title: "parked unit: KiB each",
        group_by: None,
        primary: "rss_kib_per_item",
        baselines: &["sjlj"],
        columns: &[
            col("rss_kib_per_item", Median, "RSS KiB", 2),
            col("vsz_kib_per_item", Median, "VSZ KiB", 1),
            col("pte_kib_per_item", Median, "page tables KiB", 2),
            col("kernel_stack_kib_per_item", Median, "kernel stack KiB", 2),
        ],
        chart: Chart {
            question: "What memory does each parked coroutine or thread hold?",
            axis: "resident memory per parked unit",
            unit: Unit::Kib,
            stacked: Some(("kernel_stack_kib_per_item", "kernel stack")),
            reference: None,
        },
    },
    View {
        bench: "echo",
        title: "echo, 512-byte ping-pong on loopback",
        group_by: Some("connections"),
        primary: "req_per_s",
        baselines: &["coro-sjlj", "sync"],
        columns: &[
            col("req_per_s", Median, "req/s", 0),
            col("p50_us", Median, "p50 us", 1),
            col("p99_us", Median, "p99 us", 1),
            col("p999_us", Median, "p99.9 us", 1),
            col("rss_kib_per_conn", Median, "RSS KiB/conn", 1),
            col("server_cpu_pct", Median, "server CPU%", 0),
            col("client_cpu_pct", Median, "client CPU%", 0),
            col("server_cpu_us_per_req", Median, "server CPU us/req", 2),
        ],
        chart: Chart {
            question: "Which server design serves the most 512-byte echo requests?",
            axis: "requests per second",
            unit: Unit::PerSecond,
            stacked: None,
            reference: None,
        },
    },
    View {
        bench: "echo-slow",
        title: "echo beside one slow client (1 byte per gap)",
        group_by: Some("connections"),
        primary: "p99_us",
        baselines: &["coro-sjlj", "sync"],
        columns: &[
            col("req_per_s", Median, "req/s", 0),
            col("p50_us", Median, "p50 us", 1),
            col("p99_us", Median, "p99 us", 1),
            col("p999_us", Median, "p99.9 us", 1),
        ],
        chart: Chart {
            question: "Does one slow client stall the others? Their p99 latency beside it",
            axis: "p99 latency of the other clients",
            unit: Unit::Micros,
            stacked: None,
            reference: Some(("echo", "p99 without the slow client")),
        },
    },
    View {
        bench: "http",
        title: "http hello under wrk",
        group_by: Some("connections"),
        primary: "req_per_s",
        baselines: &["coro-sjlj", "jmpco", "tokio"],
        columns: &[
            col("req_per_s", Median, "req/s", 0),
            col("p50_us", Median, "p50 us", 1),
            col("p99_us", Median, "p99 us", 1),
            col("rss_kib_per_conn", Median, "RSS KiB/conn", 1),
            col("server_cpu_pct", Median, "server CPU%", 0),
            col("server_cpu_us_per_req", Median, "server CPU us/req", 2),
        ],
        chart: Chart {
            question: "How many HTTP hello requests per second under wrk?",
            axis: "requests per second",
            unit: Unit::PerSecond,
            stacked: None,
            reference: None,
        },
    },
    View {
        bench: "echo-instructions",
        title: "echo: server user-space instructions per request (callgrind, N and 2N requests differenced)",
        group_by: Some("connections"),
        primary: "instructions_per_req",
        baselines: &["coro-sjlj"],
        columns: &[
            col("instructions_per_req", Median, "instr/req", 0),
            col("instructions_per_req", Min, "min", 0),
            col("instructions_per_req", Max, "max", 0),
            col("fixed_minstructions", Median, "fixed Minstr", 1),
        ],
        chart: Chart {
            question: "How many instructions does the server spend on one 512-byte echo?",
            axis: "user-space instructions per request",
            unit: Unit::Count,
            stacked: None,
            reference: None,
        },
    },
    View {
        bench: "http-instructions",
        title: "http hello: server user-space instructions per request (callgrind, N and 2N requests differenced)",
        group_by: Some("connections"),
        primary: "instructions_per_req",
        baselines: &["coro-sjlj"],
        columns: &[
            col("instructions_per_req", Median, "instr/req", 0),
            col("instructions_per_req", Min, "min", 0),
            col("instructions_per_req", Max, "max", 0),
            col("fixed_minstructions", Median, "fixed Minstr", 1),
        ],
        chart: Chart {
            question: "How many instructions does the server spend on one HTTP hello request?",
            axis: "user-space instructions per request",
            unit: Unit::Count,
            stacked: None,
            reference: None,
        },
    },
];

/// One row of a view: a contestant in a group, its records by metric.
pub struct Row<'a> {
    /// The group's param value (connections), if grouped.
    pub group: Option<u64>,
    /// The contestant.
    pub contestant: &'a str,
    /// The primary metric's record, if measured.
    pub primary: Option<&'a Record>,
    /// Primary median over the baseline's, and the baseline's name.
    pub ratio: Option<(f64, &'a str)>,
}

impl View {
    /// The view's rows in `study`, in the order the records were made.
    pub fn rows<'a>(&self, study: &'a Study) -> Vec<Row<'a>> {
        let mine: Vec<&Record> = study
            .results
            .iter()
            .filter(|r| r.bench == self.bench)
            .collect();
        let group_of = |r: &Record| self.group_by.and_then(|k| r.param_u64(k));
        let mut keys: Vec<(Option<u64>, &str)> = Vec::new();
        for r in &mine {
            let key = (group_of(r), r.contestant.as_str());
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        // Group rows (by connection count), contestants in run order within.
        keys.sort_by_key(|k| k.0);
        let primary = |group: Option<u64>, who: &str| {
            mine.iter()
                .find(|r| r.contestant == who && r.metric == self.primary && group_of(r) == group)
                .copied()
        };
        keys.iter()
            .map(|&(group, contestant)| {
                let in_group: Vec<&str> =
                    keys.iter().filter(|k| k.0 == group).map(|k| k.1).collect();
                let baseline = self
                    .baselines
                    .iter()
                    .copied()
                    .find(|b| in_group.contains(b))
                    .or(in_group.first().copied());
                let mine = primary(group, contestant);
                let ratio = baseline.and_then(|b| {
                    let base = primary(group, b)?;
                    Some((mine?.median / base.median, base.contestant.as_str()))
                });
                Row {
                    group,
                    contestant,
                    primary: mine,
                    ratio,
                }
            })
            .collect()
    }

    /// The value of `column` for `row`.
    pub fn value(&self, study: &Study, row: &Row<'_>, column: &Column) -> Option<f64> {
        let r = study.results.iter().find(|r| {
            r.bench == self.bench
                && r.contestant == row.contestant
                && r.metric == column.metric
                && self.group_by.and_then(|k| r.param_u64(k)) == row.group
        })?;
        Some(match column.field {
            Median => r.median,
            Min => r.min,
            Max => r.max,
        })
    }
}

#[cfg(test)]
mod tests;
