//! Criterion benchmarks of the runtime's cancellation features, each timed
//! inside one task of a one-worker runtime (`iter_custom`):
//!
//! * `abort/parked`: spawn a task that parks, abort it, join it (against
//!   `abort/spawn_join`: spawn a task that returns, join it).
//! * `timeout/not_firing`: `rt::timeout(1 s, || black_box(x))` against
//!   `timeout/bare`, the closure called directly: the cost of a deadline
//!   that does not fire.
//! * `scope/child`: `rt::scope` with one child that returns, against
//!   `scope/spawn_join`: `rt::spawn` + `join` of the same closure.
//!
//! Run: `cargo bench --bench cancel`, at the repository root or in `study/`.

// criterion_group! generates undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use jmpco::rt::{self, Runtime};

fn runtime() -> Runtime {
    Runtime::builder()
        .worker_threads(1)
        .build()
        .expect("a runtime")
}

/// Times `iters` calls of `op` inside one task of `rt`.
fn in_task(rt: &Runtime, iters: u64, op: fn()) -> Duration {
    rt.block_on(move || {
        let start = Instant::now();
        for _ in 0..iters {
            op();
        }
        start.elapsed()
    })
}

fn abort(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("abort");
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("parked", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, iters, || {
                let task = rt::spawn(|| rt::sleep(Duration::from_secs(60)));
                rt::yield_now(); // it starts and parks
                task.abort();
                let _ = black_box(task.join());
            })
        })
    });
    group.bench_function("spawn_join", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, iters, || {
                let task = rt::spawn(|| black_box(1));
                let _ = black_box(task.join());
            })
        })
    });
    group.finish();
}

/// The work a `timeout` wraps in `timeout/*`.
#[inline(never)]
fn seven() -> i32 {
    black_box(7)
}

fn timeout(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("timeout");
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("not_firing", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, iters, || {
                let _ = black_box(rt::timeout(Duration::from_secs(1), seven));
            })
        })
    });
    group.bench_function("bare", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, iters, || {
                let _ = black_box(seven());
            })
        })
    });
    group.finish();
}

fn scope(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("scope");
    group.measurement_time(Duration::from_secs(2));
    group.bench_function("child", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, iters, || {
                let local = black_box(5u64);
                rt::scope(|s| {
                    let _ = black_box(s.spawn(|| local + 1).join());
                });
            })
        })
    });
    group.bench_function("spawn_join", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, iters, || {
                let local = black_box(5u64);
                let _ = black_box(rt::spawn(move || local + 1).join());
            })
        })
    });
    group.finish();
}

criterion_group!(benches, abort, timeout, scope);
criterion_main!(benches);
