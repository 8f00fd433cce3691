//! jmpco's runtime: two tasks bounce a message through two
//! `rt::channel::bounded(1)` channels, on one worker (`jmpco-sjlj`,
//! `jmpco-asm`) or with each task pinned to its own worker of two
//! (`jmpco-sjlj-mt`, `jmpco-asm-mt`).

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use jmpco::rt::channel::{self, Receiver, Sender};
use jmpco::rt::{JoinError, Runtime};
use jmpco::Backend;

use super::Exchange;

/// Round trips between two tasks of a jmpco runtime.
pub struct PingPong {
    name: &'static str,
    backend: Backend,
    workers: usize,
    /// Built at the first run, kept for the others.
    rt: Option<Runtime>,
}

impl PingPong {
    /// Both tasks on the one worker of a runtime on `backend`.
    pub fn same_worker(backend: Backend) -> PingPong {
        let name = match backend {
            Backend::Sjlj => "jmpco-sjlj",
            Backend::Ucontext => "jmpco-ucontext",
            Backend::Asm => "jmpco-asm",
        };
        PingPong {
            name,
            backend,
            workers: 1,
            rt: None,
        }
    }

    /// The pinger on worker 0 and the echoer on worker 1 of a two-worker
    /// runtime on `backend`.
    pub fn two_workers(backend: Backend) -> PingPong {
        let name = match backend {
            Backend::Sjlj => "jmpco-sjlj-mt",
            Backend::Ucontext => "jmpco-ucontext-mt",
            Backend::Asm => "jmpco-asm-mt",
        };
        PingPong {
            name,
            backend,
            workers: 2,
            rt: None,
        }
    }

    fn runtime(&mut self) -> Result<&Runtime> {
        if self.rt.is_none() {
            let rt = Runtime::builder()
                .worker_threads(self.workers)
                .backend(self.backend)
                .thread_name("channel-worker")
                .build()?;
            self.rt = Some(rt);
        }
        Ok(self.rt.as_ref().expect("just built"))
    }
}

impl Exchange for PingPong {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run(&mut self, rounds: u64) -> Result<Duration> {
        let (ping_tx, ping_rx) = channel::bounded::<u64>(1);
        let (pong_tx, pong_rx) = channel::bounded::<u64>(1);
        let last = self.workers - 1;
        let handle = self.runtime()?.handle();
        // The echoer on the last worker (the only one, or worker 1), the
        // pinger on worker 0.
        let echoer = handle.spawn_on(last, move || echo(&ping_rx, &pong_tx));
        let pinger = handle.spawn_on(0, move || -> Result<Duration, String> {
            // One unmeasured round trip: the echoer has started.
            round_trips(&ping_tx, &pong_rx, 1)?;
            let start = Instant::now();
            round_trips(&ping_tx, &pong_rx, rounds)?;
            Ok(start.elapsed())
            // Dropping ping_tx ends the echoer.
        });
        let took = pinger.join().map_err(|e| joined("pinger", e))?;
        echoer.join().map_err(|e| joined("echoer", e))?;
        took.map_err(|e| anyhow!(e))
    }
}

fn joined(who: &str, e: JoinError) -> anyhow::Error {
    anyhow!("the {who} task failed: {e}")
}

/// Sends every message received back, until the pinger hangs up.
fn echo(rx: &Receiver<u64>, tx: &Sender<u64>) {
    for v in rx.iter() {
        if tx.send(v).is_err() {
            return;
        }
    }
}

/// `rounds` round trips, checking that each message comes back; out of
/// line, so a profile shows the loop as one function.
#[inline(never)]
fn round_trips(tx: &Sender<u64>, rx: &Receiver<u64>, rounds: u64) -> Result<(), String> {
    for i in 0..rounds {
        tx.send(i).map_err(|_| "the echoer hung up".to_string())?;
        match rx.recv() {
            Ok(v) if v == i => {}
            Ok(v) => return Err(format!("sent {i}, got {v} back")),
            Err(_) => return Err("the echoer hung up".into()),
        }
    }
    Ok(())
}
