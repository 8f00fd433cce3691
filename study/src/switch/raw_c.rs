//! The same switch functions as raw C loops (`study/csrc/bench_loop.c`): no Rust
//! between the round trips, so `sjlj / raw-c-sjlj` is the Rust layer's cost.
//!
//! The loops are the study's, not jmpco's: `build.rs` compiles them
//! against the C switch functions the jmpco library exports, and
//! [`round_trips`] calls them (the criterion bench, `benches/switch.rs`,
//! too).

use std::ffi::{c_int, c_void};
use std::io;
use std::time::{Duration, Instant};

use anyhow::Result;
use jmpco::stack::Stack;
use jmpco::Backend;

use super::RoundTrip;

// The loops of study/csrc/bench_loop.c, as study/csrc/bench_loop.h declares
// them.
unsafe extern "C" {
    fn jmpco_bench_sjlj_round_trips(
        stack_top: *mut c_void,
        stack_size: usize,
        rounds: u64,
    ) -> c_int;
    fn jmpco_bench_ucontext_round_trips(
        stack_top: *mut c_void,
        stack_size: usize,
        rounds: u64,
    ) -> c_int;
    fn jmpco_bench_asm_round_trips(stack_top: *mut c_void, stack_size: usize, rounds: u64)
        -> c_int;
}

/// Runs `rounds` resume+suspend round trips of `backend`'s switch in the
/// raw C loop of `study/csrc/bench_loop.c` (no Rust in the loop), on a coroutine
/// it leaves suspended in `stack`. The benchmarks' baseline for the cost of
/// the Rust layer.
pub fn round_trips(backend: Backend, stack: &mut Stack, rounds: u64) -> io::Result<()> {
    let top = stack.top().cast();
    let size = stack.size();
    // SAFETY: `&mut Stack` means no coroutine lives on it; the C loop only
    // uses memory below `top`, and leaves a suspended coroutine there that
    // owns nothing and is never continued.
    let rc = unsafe {
        match backend {
            Backend::Sjlj => jmpco_bench_sjlj_round_trips(top, size, rounds),
            Backend::Ucontext => jmpco_bench_ucontext_round_trips(top, size, rounds),
            Backend::Asm => jmpco_bench_asm_round_trips(top, size, rounds),
        }
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "the raw C {backend} loop could not set up its context"
        )))
    }
}

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
        round_trips(self.backend, &mut stack, rounds)?;
        Ok(start.elapsed())
    }
}
