//! The same switch functions as raw C loops (`csrc/bench_loop.c`): no Rust
//! between the round trips, so `sjlj / raw-c-sjlj` is the Rust layer's cost.

use std::time::{Duration, Instant};

use anyhow::Result;
use jmpco::stack::Stack;
use jmpco::Backend;

use super::RoundTrip;

/// The raw C loop of one backend.
pub struct RawC {
    backend: Backend,
}

impl RawC {
    /// The engine of `backend`.
    pub fn new(backend: Backend) -> RawC {
        RawC { backend }
    }
}

impl RoundTrip for RawC {
    fn name(&self) -> &'static str {
        match self.backend {
            Backend::Sjlj => "raw-c-sjlj",
            Backend::Ucontext => "raw-c-ucontext",
            Backend::Asm => "raw-c-asm",
        }
    }

    fn run(&mut self, rounds: u64) -> Result<Duration> {
        let mut stack = Stack::pooled(64 * 1024)?;
        let start = Instant::now();
        self.backend.raw_c_round_trips(&mut stack, rounds)?;
        Ok(start.elapsed())
    }
}
