//! `corosensei`: `Coroutine::new` (a fresh `DefaultStack`: an `mmap` with a
//! guard page, unmapped on drop) and `corosensei-reused`
//! (`Coroutine::with_stack` on the stack the previous one gave back with
//! `into_stack`, the closest it has to a pool).

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Result;
use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};

use super::Create;

/// A corosensei creation engine.
pub struct Corosensei {
    reuse: bool,
}

impl Corosensei {
    /// A fresh default stack per coroutine.
    pub fn fresh() -> Corosensei {
        Corosensei { reuse: false }
    }

    /// One stack handed from each coroutine to the next.
    pub fn reused() -> Corosensei {
        Corosensei { reuse: true }
    }
}

fn body(_: &Yielder<u64, ()>, n: u64) -> u64 {
    n + 1
}

impl Create for Corosensei {
    fn name(&self) -> &'static str {
        if self.reuse {
            "corosensei-reused"
        } else {
            "corosensei"
        }
    }

    fn run(&mut self, count: u64) -> Result<Duration> {
        let start = Instant::now();
        if self.reuse {
            let mut stack = DefaultStack::new(64 * 1024)?;
            for i in 0..count {
                let mut co = Coroutine::with_stack(stack, body);
                black_box(co.resume(black_box(i)));
                stack = co.into_stack();
            }
        } else {
            for i in 0..count {
                let mut co = Coroutine::new(body);
                black_box(co.resume(black_box(i)));
            }
        }
        Ok(start.elapsed())
    }
}
