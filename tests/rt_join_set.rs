//! `JoinSet`: results in the order tasks end, panics and cancellations
//! reported, abort of every task on drop, from a task and from a thread.
//! Every test is bounded by a watchdog.

mod rt_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use jmpco::rt::{self, JoinError, JoinSet};
use rt_support::{each_backend, watchdog};

#[test]
fn results_come_out_in_the_order_the_tasks_end() {
    watchdog(30, "order", || {
        each_backend(|rt| {
            let order = rt.block_on(|| {
                let mut set = JoinSet::new();
                for (i, ms) in [(0u32, 30u64), (1, 10), (2, 20)] {
                    set.spawn(move || {
                        rt::sleep(Duration::from_millis(ms));
                        i
                    });
                }
                assert_eq!(set.len(), 3);
                let mut order = Vec::new();
                while let Some(r) = set.join_next() {
                    order.push(r.unwrap());
                }
                assert!(set.is_empty());
                order
            });
            assert_eq!(order, [1, 2, 0]);
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn a_panic_and_an_abort_are_reported_as_such() {
    watchdog(30, "errors", || {
        each_backend(|rt| {
            let (panicked, cancelled, fine) = rt.block_on(|| {
                let mut set: JoinSet<u32> = JoinSet::new();
                set.spawn(|| panic!("one task's panic"));
                let slow = set.spawn(|| {
                    rt::sleep(Duration::from_secs(60));
                    0
                });
                set.spawn(|| 5);
                slow.abort();
                let (mut panicked, mut cancelled, mut fine) = (0, 0, 0);
                while let Some(r) = set.join_next() {
                    match r {
                        Ok(5) => fine += 1,
                        Err(JoinError::Panicked(_)) => panicked += 1,
                        Err(JoinError::Cancelled) => cancelled += 1,
                        other => panic!("unexpected {other:?}"),
                    }
                }
                (panicked, cancelled, fine)
            });
            assert_eq!((panicked, cancelled, fine), (1, 1, 1));
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn dropping_the_set_aborts_every_task_in_it() {
    watchdog(30, "drop_aborts", || {
        each_backend(|rt| {
            let finished = Arc::new(AtomicUsize::new(0));
            let f = finished.clone();
            rt.block_on(move || {
                let mut set = JoinSet::new();
                for _ in 0..10 {
                    let f = f.clone();
                    set.spawn(move || {
                        rt::sleep(Duration::from_millis(100));
                        f.fetch_add(1, Ordering::SeqCst);
                    });
                }
                rt::yield_now(); // they all start and park
                drop(set);
                rt::sleep(Duration::from_millis(200));
            });
            assert_eq!(finished.load(Ordering::SeqCst), 0, "every task was aborted");
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn a_plain_thread_joins_a_set_spawned_on_the_runtime() {
    watchdog(30, "thread", || {
        let rt = rt::Runtime::builder().worker_threads(2).build().unwrap();
        let mut set = JoinSet::new();
        for i in 0..20u64 {
            set.spawn_on(rt.handle(), move || i * i);
        }
        let mut sum = 0;
        while let Some(r) = set.join_next() {
            sum += r.unwrap();
        }
        assert_eq!(sum, (0..20u64).map(|i| i * i).sum::<u64>());
        // shutdown() aborts and waits.
        for _ in 0..3 {
            set.spawn_on(rt.handle(), || {
                rt::sleep(Duration::from_secs(60));
                0
            });
        }
        set.shutdown();
        assert!(set.is_empty());
        rt.shutdown(Duration::from_secs(5));
    });
}
