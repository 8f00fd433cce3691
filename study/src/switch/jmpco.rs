//! jmpco through its Rust API: `Coroutine::resume` into a body that loops on
//! `Yielder::suspend`. One engine per backend (`sjlj`, `ucontext`, `asm`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::Result;
use jmpco::{Backend, Coroutine, Yielder};

use super::RoundTrip;

/// Round trips on one backend.
pub struct Jmpco {
    backend: Backend,
}

impl Jmpco {
    /// The engine of `backend`.
    pub fn new(backend: Backend) -> Jmpco {
        Jmpco { backend }
    }
}

impl RoundTrip for Jmpco {
    fn name(&self) -> &'static str {
        self.backend.name()
    }

    fn run(&mut self, rounds: u64) -> Result<Duration> {
        let mut co =
            Coroutine::builder()
                .backend(self.backend)
                .build(|y: &Yielder<(), ()>, ()| loop {
                    y.suspend(())
                })?;
        co.resume(()); // enter the body: the loop measures round trips only
        let start = Instant::now();
        resume_loop(&mut co, rounds);
        Ok(start.elapsed())
    }
}

/// The measured loop, out of line so an instruction counter can be pointed
/// at it: `valgrind --tool=callgrind --toggle-collect='*resume_loop*'`.
#[inline(never)]
fn resume_loop(co: &mut Coroutine<(), (), ()>, rounds: u64) {
    for _ in 0..rounds {
        black_box(co.resume(()));
    }
}
