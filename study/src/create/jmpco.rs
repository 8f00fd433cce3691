//! jmpco: `Coroutine::builder()...build`, one resume that runs the body to
//! its return, and the drop, with a pooled or a fresh stack.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Result;
use jmpco::{Backend, Coroutine, Yielder};

use super::Create;

/// Creation on one backend and stack source.
pub struct Jmpco {
    name: &'static str,
    backend: Backend,
    pooled: bool,
}

impl Jmpco {
    /// The engine called `name`.
    pub fn new(name: &'static str, backend: Backend, pooled: bool) -> Jmpco {
        Jmpco {
            name,
            backend,
            pooled,
        }
    }
}

impl Create for Jmpco {
    fn name(&self) -> &'static str {
        self.name
    }

    fn run(&mut self, count: u64) -> Result<Duration> {
        let builder = Coroutine::builder()
            .backend(self.backend)
            .pooled(self.pooled);
        let start = Instant::now();
        for i in 0..count {
            let mut co = builder
                .clone()
                .build(|_: &Yielder<u64, ()>, n: u64| n + 1)?;
            black_box(co.resume(black_box(i)));
        }
        Ok(start.elapsed())
    }
}
