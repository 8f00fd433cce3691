//! The child side of the memory bench (`jmpco-study park`): park `count`
//! units, measure this process before and after (RSS, VSZ, page tables,
//! and the machine's kernel stacks), print the [`Measured`] JSON on
//! stdout, let them all go and exit.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use serde::{Deserialize, Serialize};

use crate::sys::procfs;

/// What is parked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// jmpco coroutines on one backend.
    Jmpco(jmpco::Backend),
    /// corosensei coroutines.
    Corosensei,
    /// OS threads with the default pthread stack size.
    Thread,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Jmpco(b) => f.write_str(b.name()),
            Kind::Corosensei => f.write_str("corosensei"),
            Kind::Thread => f.write_str("thread"),
        }
    }
}

impl FromStr for Kind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Kind> {
        match s {
            "corosensei" => Ok(Kind::Corosensei),
            "thread" => Ok(Kind::Thread),
            _ => jmpco::Backend::ALL
                .into_iter()
                .find(|b| b.name() == s)
                .map(Kind::Jmpco)
                .ok_or_else(|| anyhow!("unknown kind {s:?}")),
        }
    }
}

/// A child's measurements of itself, before and after parking `count` units.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct Measured {
    /// Units parked.
    pub count: usize,
    /// Resident KiB before.
    pub rss_before: u64,
    /// Resident KiB with every unit parked.
    pub rss_after: u64,
    /// Virtual KiB before.
    pub vsz_before: u64,
    /// Virtual KiB with every unit parked.
    pub vsz_after: u64,
    /// Page-table KiB before.
    pub pte_before: u64,
    /// Page-table KiB with every unit parked.
    pub pte_after: u64,
    /// The machine's KernelStack KiB before.
    pub kernel_stack_before: u64,
    /// The machine's KernelStack KiB with every unit parked.
    pub kernel_stack_after: u64,
}

impl Measured {
    /// Resident KiB each unit added.
    pub fn rss_kib_per_item(&self) -> f64 {
        per(self.rss_after, self.rss_before, self.count)
    }

    /// Virtual KiB each unit added.
    pub fn vsz_kib_per_item(&self) -> f64 {
        per(self.vsz_after, self.vsz_before, self.count)
    }

    /// Page-table KiB each unit added.
    pub fn pte_kib_per_item(&self) -> f64 {
        per(self.pte_after, self.pte_before, self.count)
    }

    /// Kernel-stack KiB each unit added (machine-wide: other processes'
    /// threads count too, so it is meaningful for threads only).
    pub fn kernel_stack_kib_per_item(&self) -> f64 {
        per(
            self.kernel_stack_after,
            self.kernel_stack_before,
            self.count,
        )
    }
}

fn per(after: u64, before: u64, count: usize) -> f64 {
    (after as f64 - before as f64) / count.max(1) as f64
}

/// The default pthread stack size: the soft `RLIMIT_STACK` (8 MiB unless
/// `ulimit -s` says otherwise; 2 MiB if unlimited, as glibc does on x86-64).
pub fn thread_stack_size() -> usize {
    // SAFETY: rlimit is plain data.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: `lim` is a writable rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut lim) };
    if rc != 0 || lim.rlim_cur == libc::RLIM_INFINITY {
        2 << 20
    } else {
        lim.rlim_cur as usize
    }
}

/// Parks `count` units of `kind`, measures, releases them; the measurement.
pub fn park(kind: Kind, count: usize, stack_size: usize) -> Result<Measured> {
    let before = procfs::memory(None)?;
    let kernel_before = procfs::kernel_stack_kib()?;
    let mut after = Default::default();
    let mut kernel_after = 0;
    let mut measure = || -> Result<()> {
        after = procfs::memory(None)?;
        kernel_after = procfs::kernel_stack_kib()?;
        Ok(())
    };
    match kind {
        Kind::Jmpco(backend) => {
            let mut parked = Vec::with_capacity(count);
            for _ in 0..count {
                let mut co = jmpco::Coroutine::builder()
                    .backend(backend)
                    .stack_size(stack_size)
                    .build(|y: &jmpco::Yielder<(), ()>, ()| y.suspend(()))?;
                co.resume(());
                parked.push(co);
            }
            measure()?;
        }
        Kind::Corosensei => {
            use corosensei::{stack::DefaultStack, Coroutine, Yielder};
            let mut parked = Vec::with_capacity(count);
            for _ in 0..count {
                let stack = DefaultStack::new(stack_size)?;
                let mut co = Coroutine::with_stack(stack, |y: &Yielder<(), ()>, ()| y.suspend(()));
                co.resume(());
                parked.push(co);
            }
            measure()?;
            // Finish them rather than force-unwind 100,000 stacks on drop.
            for co in &mut parked {
                co.resume(());
            }
        }
        Kind::Thread => park_threads(count, &mut measure)?,
    }
    Ok(Measured {
        count,
        rss_before: before.rss_kib,
        rss_after: after.rss_kib,
        vsz_before: before.vsz_kib,
        vsz_after: after.vsz_kib,
        pte_before: before.pte_kib,
        pte_after: after.pte_kib,
        kernel_stack_before: kernel_before,
        kernel_stack_after: kernel_after,
    })
}

/// Starts `count` threads with the default pthread stack, each waiting on
/// one condition variable, calls `measure` once all wait, then wakes them.
fn park_threads(count: usize, measure: &mut dyn FnMut() -> Result<()>) -> Result<()> {
    let parked = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let mut handles = Vec::with_capacity(count);
    let stack = thread_stack_size();
    for i in 0..count {
        let (parked, shared) = (parked.clone(), gate.clone());
        let spawned = std::thread::Builder::new()
            .stack_size(stack)
            .spawn(move || {
                let (open, cond) = &*shared;
                let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
                parked.fetch_add(1, Ordering::Release);
                while !*open {
                    open = cond.wait(open).unwrap_or_else(|e| e.into_inner());
                }
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => {
                release(&gate, handles);
                bail!("could only start {i} of {count} threads: {e}");
            }
        }
    }
    while parked.load(Ordering::Acquire) < count {
        std::thread::sleep(Duration::from_millis(1));
    }
    let measured = measure();
    release(&gate, handles);
    measured
}

fn release(gate: &(Mutex<bool>, Condvar), handles: Vec<std::thread::JoinHandle<()>>) {
    *gate.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
    gate.1.notify_all();
    for h in handles {
        let _ = h.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parking_a_few_of_each_kind_measures_growth() {
        for kind in [
            Kind::Jmpco(jmpco::Backend::Sjlj),
            Kind::Jmpco(jmpco::Backend::Ucontext),
            Kind::Corosensei,
            Kind::Thread,
        ] {
            // VSZ is the whole process's, and the harness runs other tests
            // on other threads, which may unmap memory (a finished thread's
            // stack) mid-measurement. Parking 20 stacks always maps more, so
            // a few tries tell that noise from a real failure.
            let tries: Vec<Measured> = (0..5)
                .map(|_| park(kind, 20, 16 * 1024).expect("parked"))
                .collect();
            assert!(tries.iter().all(|m| m.count == 20), "{kind}: {tries:?}");
            assert!(
                tries.iter().any(|m| m.vsz_after >= m.vsz_before),
                "{kind}: {tries:?}"
            );
        }
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in ["sjlj", "ucontext", "asm", "corosensei", "thread"] {
            assert_eq!(kind.parse::<Kind>().expect(kind).to_string(), kind);
        }
        assert!("fiber".parse::<Kind>().is_err());
    }
}
