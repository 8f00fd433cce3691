//! `memory`: N parked coroutines against M parked threads — resident and
//! virtual size per unit, the page tables mapping it (`VmPTE`, which RSS
//! leaves out) and the kernel stack each thread costs (the notes' "a thread
//! ~8 MiB, a coroutine ~4 KiB").
//!
//! Each run parks its units in a child process ([`park`], run through the
//! hidden `park` subcommand): the child measures itself before and after,
//! and its exit returns everything, so runs do not pollute each other or the
//! parent. A coroutine is parked after its first suspend (its stack touched
//! as a real one would be); a thread is parked on a condition variable with
//! the default pthread stack (`ulimit -s`, usually 8 MiB) — the thread the
//! notes talk about, not Rust's 2 MiB default.

pub mod park;

use std::io::Read;

use anyhow::{bail, Context, Result};

use crate::child;
use crate::progress::Progress;
use crate::record::Record;
use crate::{params, Selection};
use park::{Kind, Measured};

/// The bench's knobs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Runs per contestant (one child each).
    pub runs: usize,
    /// Parked coroutines per run.
    pub coroutines: usize,
    /// Parked threads per run.
    pub threads: usize,
    /// Usable stack bytes of each coroutine (jmpco's default if `None`).
    pub stack_size: Option<usize>,
}

/// The contestants: coroutines per backend and peer, then threads.
pub fn contestants() -> Vec<(&'static str, Kind)> {
    vec![
        ("sjlj", Kind::Jmpco(jmpco::Backend::Sjlj)),
        ("ucontext", Kind::Jmpco(jmpco::Backend::Ucontext)),
        ("asm", Kind::Jmpco(jmpco::Backend::Asm)),
        ("corosensei", Kind::Corosensei),
        ("thread", Kind::Thread),
    ]
}

/// Runs the selected contestants, each `runs` times in a fresh child.
pub fn run(
    config: &Config,
    select: &Selection,
    progress: &Progress,
    notes: &mut Vec<String>,
) -> Result<Vec<Record>> {
    let stack_size = config
        .stack_size
        .unwrap_or(jmpco::stack::DEFAULT_STACK_SIZE);
    let mut records = Vec::new();
    for (name, kind) in contestants() {
        if !select.wants(name) {
            continue;
        }
        progress.step(&format!("memory {name}"));
        let mut count = match kind {
            Kind::Thread => config.threads,
            _ => config.coroutines,
        };
        if kind == Kind::Corosensei && count > corosensei_limit() {
            count = corosensei_limit();
            notes.push(format!(
                "memory: corosensei parked {count}, not {}: each of its stacks is two mappings \
                 (stack + mprotect'ed guard) and vm.max_map_count is {}",
                config.coroutines,
                max_map_count()
            ));
        }
        let mut rss = Vec::new();
        let mut vsz = Vec::new();
        let mut pte = Vec::new();
        let mut kstack = Vec::new();
        for _ in 0..config.runs {
            let m = park_in_child(kind, count, stack_size)?;
            rss.push(m.rss_kib_per_item());
            vsz.push(m.vsz_kib_per_item());
            pte.push(m.pte_kib_per_item());
            kstack.push(m.kernel_stack_kib_per_item());
        }
        let stack_kib = match kind {
            Kind::Thread => park::thread_stack_size() / 1024,
            _ => stack_size / 1024,
        };
        let p = || params! {"count" => count, "stack_kib" => stack_kib};
        records.push(Record::new("memory", name, "rss_kib_per_item", p(), &rss));
        records.push(Record::new("memory", name, "vsz_kib_per_item", p(), &vsz));
        records.push(Record::new("memory", name, "pte_kib_per_item", p(), &pte));
        if kind == Kind::Thread {
            records.push(Record::new(
                "memory",
                name,
                "kernel_stack_kib_per_item",
                p(),
                &kstack,
            ));
        }
        progress.done();
    }
    Ok(records)
}

/// The kernel's limit on mappings per process.
fn max_map_count() -> usize {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(65_530)
}

/// The most corosensei coroutines one process can park: two mappings per
/// stack, with room left for the rest of the process.
fn corosensei_limit() -> usize {
    max_map_count().saturating_sub(2_000) / 2
}

/// Parks `count` units of `kind` in a child process and returns what it measured.
pub fn park_in_child(kind: Kind, count: usize, stack_size: usize) -> Result<Measured> {
    let args = [
        "park".to_string(),
        "--kind".into(),
        kind.to_string(),
        "--units".into(),
        count.to_string(),
        "--stack-bytes".into(),
        stack_size.to_string(),
    ];
    let mut guard = child::Guard(child::spawn(&args)?);
    let mut out = String::new();
    guard
        .0
        .stdout
        .take()
        .context("the park child's stdout")?
        .read_to_string(&mut out)?;
    let status = guard.0.wait()?;
    if !status.success() {
        bail!("parking {count} x {kind} failed ({status})");
    }
    serde_json::from_str(out.trim()).with_context(|| format!("the park child said {out:?}"))
}
