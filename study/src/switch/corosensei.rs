//! `corosensei`, the peer crate a user would pick instead: the same loop on
//! its `Coroutine::resume` / `Yielder::suspend` (hand-written asm switch).

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Result;
use corosensei::{Coroutine, Yielder};

use super::RoundTrip;

/// The corosensei engine.
pub struct Corosensei;

impl RoundTrip for Corosensei {
    fn name(&self) -> &'static str {
        "corosensei"
    }

    fn run(&mut self, rounds: u64) -> Result<Duration> {
        let mut co: Coroutine<(), (), ()> = Coroutine::new(|y: &Yielder<(), ()>, ()| loop {
            y.suspend(())
        });
        co.resume(());
        let start = Instant::now();
        for _ in 0..rounds {
            black_box(co.resume(()));
        }
        Ok(start.elapsed())
    }
}
