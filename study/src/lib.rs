//! # jmpco-study: every claim of the seed notes, measured
//!
//! The library behind the `jmpco-study` binary (`cargo run --release` at the
//! repository root). Each bench sets the same workload before every
//! contestant in one run and reports medians over repeated runs, with ratios
//! against jmpco's `sjlj` backend (against tokio in [`channel`], whose
//! question is jmpco's runtime against tokio's):
//!
//! * [`switch`] — the resume+suspend round trip (sjlj, ucontext, asm, an OS
//!   thread hand-off, corosensei, and the raw C loops);
//! * [`create`] — create + first resume + finish;
//! * [`channel`] — a message round trip between two tasks (on one worker,
//!   on two) and a contended mutex hand-off: jmpco's runtime against tokio,
//!   and std's channel between two threads;
//! * [`memory`] — parked coroutines against parked threads (RSS, VSZ,
//!   kernel stack per unit);
//! * [`echo`] — the notes' server designs under one load client, plus the
//!   slow-client stall; [`http`] — hello-world servers under `wrk`;
//! * [`instructions`] — the echo and http servers' user-space instructions
//!   per request under callgrind ([`callgrind`]), N and 2N requests
//!   differenced.
//!
//! Every contestant is one small engine (memchr's habit): a `RoundTrip`,
//! a `Create`, an `Exchange`, a parked [`memory::park::Kind`], or a
//! [`server::Server`].
//! [`report`] renders the results as a terminal table, JSON, SVG charts and
//! `report.md`; [`machine`] describes the machine and build they came from.

pub mod callgrind;
pub mod channel;
pub mod child;
pub mod create;
pub mod echo;
pub mod http;
pub mod instructions;
pub mod machine;
pub mod memory;
pub mod plan;
pub mod progress;
pub mod record;
pub mod report;
pub mod server;
pub mod switch;
pub mod sys;
pub mod timed;

/// Which contestants to run: all, or those named.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    names: Option<Vec<String>>,
}

impl Selection {
    /// Every contestant.
    pub fn all() -> Selection {
        Selection { names: None }
    }

    /// Only the contestants named (in any bench).
    pub fn only(names: Vec<String>) -> Selection {
        Selection { names: Some(names) }
    }

    /// Whether contestant `name` runs.
    pub fn wants(&self, name: &str) -> bool {
        self.names
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }
}
