//! What a run of the study measures: which benches, with which knobs
//! ([`Plan`]), from the quick preset (the default: well under three minutes
//! on two cores; every bench but `instructions`) or the full one (`--full`:
//! every bench, every connection count, longer windows, more runs); and
//! [`run`], which carries a plan out.

use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::echo::{self, Slow};
use crate::progress::Progress;
use crate::report::Study;
use crate::sys::affinity;
use crate::{channel, create, http, instructions, machine, memory, switch, Selection};

/// A bench of the study.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bench {
    /// Round trips.
    Switch,
    /// Creation.
    Create,
    /// Channel round trips (one worker, two) and the contended mutex.
    Channel,
    /// Parked memory.
    Memory,
    /// Echo servers (and the slow client).
    Echo,
    /// HTTP servers under wrk.
    Http,
    /// The echo and http servers' instructions per request, under callgrind.
    Instructions,
}

impl Bench {
    /// Every bench, in report order.
    pub const ALL: [Bench; 7] = [
        Bench::Switch,
        Bench::Create,
        Bench::Channel,
        Bench::Memory,
        Bench::Echo,
        Bench::Http,
        Bench::Instructions,
    ];

    /// The benches of the quick preset: all but `instructions` (its
    /// callgrind runs take minutes).
    pub const QUICK: [Bench; 6] = [
        Bench::Switch,
        Bench::Create,
        Bench::Channel,
        Bench::Memory,
        Bench::Echo,
        Bench::Http,
    ];
}

/// Everything one run measures.
#[derive(Clone, Debug)]
pub struct Plan {
    /// `quick` or `full`.
    pub preset: &'static str,
    /// The benches to run, in order.
    pub benches: Vec<Bench>,
    /// Round-trip knobs.
    pub switch: switch::Config,
    /// Creation knobs.
    pub create: create::Config,
    /// Channel and mutex knobs.
    pub channel: channel::Config,
    /// Memory knobs.
    pub memory: memory::Config,
    /// Echo knobs.
    pub echo: echo::Config,
    /// HTTP knobs.
    pub http: http::Config,
    /// Instruction-count knobs.
    pub instructions: instructions::Config,
}

impl Plan {
    /// The quick preset (`full == false`) or the full one.
    pub fn preset(full: bool) -> Plan {
        let (server_cpus, _) = affinity::split_server_client();
        // The multi-threaded contestants get at least two threads, even when
        // the server has one CPU: "mt" then measures the cost of threads.
        let server_threads = server_cpus.len().max(2);
        let ms = Duration::from_millis;
        let runs = if full { 10 } else { 5 };
        Plan {
            preset: if full { "full" } else { "quick" },
            benches: if full {
                Bench::ALL.to_vec()
            } else {
                Bench::QUICK.to_vec()
            },
            switch: switch::Config {
                runs,
                sample_time: ms(if full { 200 } else { 40 }),
            },
            create: create::Config {
                runs,
                sample_time: ms(if full { 100 } else { 25 }),
            },
            channel: channel::Config {
                runs: if full { 10 } else { 7 },
                sample_time: ms(if full { 200 } else { 40 }),
            },
            memory: memory::Config {
                runs: if full { 5 } else { 3 },
                coroutines: 100_000,
                threads: 10_000,
                stack_size: None,
            },
            echo: echo::Config {
                runs: if full { 5 } else { 3 },
                connections: if full { vec![10, 100, 1000] } else { vec![100] },
                size: 512,
                warmup: ms(if full { 1000 } else { 300 }),
                duration: ms(if full { 5000 } else { 1000 }),
                server_threads,
                client_threads: 1,
                slow: Some(Slow {
                    connections: 100,
                    gap: ms(1),
                    contestants: ["sync", "coro-sjlj", "tokio", "thread-pool"]
                        .map(String::from)
                        .to_vec(),
                }),
            },
            http: http::Config {
                runs: if full { 3 } else { 1 },
                connections: if full { vec![100, 1000] } else { vec![100] },
                duration: ms(if full { 5000 } else { 2000 }),
                server_threads,
                client_threads: 1,
                pipeline: 1,
            },
            instructions: instructions::Config {
                runs: 3,
                requests: if full { 5_000 } else { 2_000 },
                connections: 1,
                size: 512,
                server_threads,
                contestants: instructions::CONTESTANTS.map(String::from).to_vec(),
            },
        }
    }

    /// Steps for the progress bar (contestants × variants, roughly).
    pub fn steps(&self, select: &Selection) -> u64 {
        let count = |names: Vec<&str>| names.into_iter().filter(|n| select.wants(n)).count() as u64;
        self.benches
            .iter()
            .map(|b| match b {
                Bench::Switch => count(switch::contestants().iter().map(|c| c.name()).collect()),
                Bench::Create => count(create::contestants().iter().map(|c| c.name()).collect()),
                Bench::Channel => count(channel::names()),
                Bench::Memory => count(memory::contestants().iter().map(|c| c.0).collect()),
                Bench::Echo => echo::steps(&self.echo, select),
                Bench::Http => {
                    count(http::servers().iter().map(|s| s.name()).collect())
                        * self.http.connections.len() as u64
                }
                Bench::Instructions => instructions::steps(&self.instructions, select),
            })
            .sum()
    }
}

/// Carries out `plan` on the contestants `select` names.
pub fn run(plan: &Plan, select: &Selection, progress: &Progress, command: String) -> Result<Study> {
    let mut study = Study {
        machine: machine::Machine::detect(),
        build: machine::Build::current(),
        preset: plan.preset.into(),
        command,
        results: Vec::new(),
        notes: Vec::new(),
        wall_s: 0.0,
    };
    let start = std::time::Instant::now();
    for bench in &plan.benches {
        let records = match bench {
            Bench::Switch => switch::run(&plan.switch, select, progress)?,
            Bench::Create => create::run(&plan.create, select, progress)?,
            Bench::Channel => channel::run(&plan.channel, select, progress, &mut study.notes)?,
            Bench::Memory => memory::run(&plan.memory, select, progress, &mut study.notes)?,
            Bench::Echo => echo::run(&plan.echo, select, progress)?,
            Bench::Http => http::run(&plan.http, select, progress, &mut study.notes)?,
            Bench::Instructions => {
                instructions::run(&plan.instructions, select, progress, &mut study.notes)?
            }
        };
        study.results.extend(records);
    }
    study.wall_s = start.elapsed().as_secs_f64();
    Ok(study)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quick_preset_runs_every_bench_but_the_instruction_counts() {
        let quick = Plan::preset(false);
        assert_eq!(quick.preset, "quick");
        assert_eq!(quick.benches, Bench::QUICK);
        assert!(quick.benches.contains(&Bench::Channel));
        assert!(!quick.benches.contains(&Bench::Instructions));
        let full = Plan::preset(true);
        assert_eq!(full.benches, Bench::ALL);
        assert!(full.benches.contains(&Bench::Instructions));
    }

    #[test]
    fn the_quick_channel_bench_fits_in_fifteen_seconds() {
        // Each contestant: its calibration (trials growing 8x until one
        // lasts `trial`: the last is under 8 `trial`s long, all of them
        // under 16), then its runs.
        let quick = Plan::preset(false).channel;
        let scenarios = channel::scenarios();
        let budget: Duration = scenarios
            .iter()
            .map(|(bench, engines)| {
                let one = bench.trial * 8 * 2 + quick.sample_time * quick.runs as u32;
                one * engines.len() as u32
            })
            .sum();
        assert!(budget <= Duration::from_secs(15), "{budget:?}");
    }

    #[test]
    fn the_progress_bar_counts_every_channel_contestant_selected() {
        let mut plan = Plan::preset(false);
        plan.benches = vec![Bench::Channel];
        assert_eq!(plan.steps(&Selection::all()), channel::names().len() as u64);
        // `tokio` runs in every one-worker scenario, `tokio-mt` in the
        // two-worker one: a name selects its rows in each.
        let tokio = channel::names().iter().filter(|n| **n == "tokio").count() as u64;
        assert!(tokio >= 1);
        assert_eq!(plan.steps(&Selection::only(vec!["tokio".into()])), tokio);
    }
}
