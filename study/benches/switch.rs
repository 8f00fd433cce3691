//! Criterion benchmarks of the switch, all contestants in one run:
//!
//! * `round_trip/*`: one resume + one suspend. `rust-sjlj` and
//!   `rust-ucontext`, `rust-asm` go through the `Coroutine` API; `c-*` are the
//!   study's raw C loops in `study/csrc/bench_loop.c` (`jmpco_study::switch::raw_c`),
//!   the same switch functions with no Rust in between, so
//!   `rust-sjlj / c-sjlj` is the cost of the Rust layer.
//! * `create/*`: create a coroutine, resume it to completion, drop it, with a
//!   stack from the pool or a fresh mapping.
//!
//! Run: `cargo bench --bench switch` (add `-- round_trip` for one group),
//! at the repository root or in `study/`.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use jmpco::stack::Stack;
use jmpco::{Backend, Coroutine, Yielder};
use jmpco_study::switch::raw_c;

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("round_trip");
    group.measurement_time(Duration::from_secs(3));
    for backend in Backend::ALL {
        let mut co = Coroutine::builder()
            .backend(backend)
            .build(|y: &Yielder<(), ()>, ()| loop {
                y.suspend(())
            })
            .expect("a coroutine");
        group.bench_function(format!("rust-{backend}"), |b| {
            b.iter(|| black_box(co.resume(())))
        });
    }
    let mut stack = Stack::pooled(64 * 1024).expect("a stack");
    for backend in Backend::ALL {
        group.bench_function(format!("c-{backend}"), |b| {
            b.iter_custom(|rounds| {
                let start = Instant::now();
                raw_c::round_trips(backend, &mut stack, rounds).expect("the raw C loop");
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn create(c: &mut Criterion) {
    let mut group = c.benchmark_group("create");
    group.measurement_time(Duration::from_secs(3));
    let cases = [
        ("sjlj-pooled", Backend::Sjlj, true),
        ("sjlj-fresh", Backend::Sjlj, false),
        ("ucontext-pooled", Backend::Ucontext, true),
        ("asm-pooled", Backend::Asm, true),
    ];
    for (name, backend, pooled) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut co = Coroutine::builder()
                    .backend(backend)
                    .pooled(pooled)
                    .build(|_: &Yielder<u64, ()>, n: u64| n + 1)
                    .expect("a coroutine");
                black_box(co.resume(black_box(1)))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, round_trip, create);
criterion_main!(benches);
