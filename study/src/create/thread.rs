//! `thread`: `std::thread::spawn` of a closure that returns at once, and the
//! join — what a thread-per-task design pays per task.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

use super::Create;

/// The spawn + join engine.
pub struct SpawnJoin;

impl Create for SpawnJoin {
    fn name(&self) -> &'static str {
        "thread"
    }

    fn run(&mut self, count: u64) -> Result<Duration> {
        let start = Instant::now();
        for i in 0..count {
            let n = black_box(i);
            let joined = std::thread::spawn(move || n + 1).join();
            black_box(joined.map_err(|_| anyhow!("a spawned thread panicked"))?);
        }
        Ok(start.elapsed())
    }
}
