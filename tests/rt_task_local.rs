//! Task-locals and task ids: one value per task, made on first use,
//! dropped when the task ends (returns, panics, or is cancelled), invisible
//! to other tasks and outside tasks. Every test is bounded by a watchdog.

mod rt_support;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use jmpco::rt::{self, AccessError};
use rt_support::{each_backend, watchdog};

static DROPS: AtomicUsize = AtomicUsize::new(0);
static MADE: AtomicUsize = AtomicUsize::new(0);

/// Counts how many were made and dropped.
struct Tracked(u32);

impl Tracked {
    fn new() -> Tracked {
        MADE.fetch_add(1, Ordering::SeqCst);
        Tracked(0)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPS.fetch_add(1, Ordering::SeqCst);
    }
}

jmpco::task_local! {
    static COUNT: Cell<u32> = Cell::new(0);
    static LOG: RefCell<Vec<&'static str>> = RefCell::new(Vec::new());
    static TRACKED: RefCell<Tracked> = RefCell::new(Tracked::new());
}

#[test]
fn every_task_has_its_own_value_and_other_tasks_never_see_it() {
    watchdog(30, "own_value", || {
        each_backend(|rt| {
            let (mine, theirs) = rt.block_on(|| {
                COUNT.with(|c| c.set(41));
                let theirs = rt::spawn(|| {
                    rt::yield_now();
                    COUNT.with(|c| {
                        c.set(c.get() + 1);
                        c.get()
                    })
                });
                rt::yield_now();
                LOG.with(|l| l.borrow_mut().push("parent"));
                COUNT.with(|c| c.set(c.get() + 1));
                (COUNT.with(Cell::get), theirs.join().unwrap())
            });
            assert_eq!((mine, theirs), (42, 1));
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

/// Values are made on first use and dropped at the task's end: after a
/// return, a panic, and a cancellation alike.
#[test]
fn a_task_local_is_dropped_when_its_task_ends_however_it_ends() {
    watchdog(30, "dropped", || {
        each_backend(|rt| {
            let base = (MADE.load(Ordering::SeqCst), DROPS.load(Ordering::SeqCst));
            rt.spawn(|| TRACKED.with(|t| t.borrow_mut().0 += 1))
                .join()
                .unwrap();
            assert!(rt
                .spawn(|| {
                    TRACKED.with(|t| t.borrow_mut().0 += 1);
                    panic!("the task's panic");
                })
                .join()
                .is_err());
            rt.spawn(|| ()).join().unwrap(); // never used: never made
            let (parked_tx, parked_rx) = mpsc::channel();
            let cancelled = rt.spawn(move || {
                TRACKED.with(|t| t.borrow_mut().0 += 1);
                parked_tx.send(()).unwrap();
                rt::sleep(Duration::from_secs(60));
            });
            parked_rx.recv_timeout(Duration::from_secs(5)).unwrap();
            cancelled.abort();
            let _ = cancelled.join();
            let made = MADE.load(Ordering::SeqCst) - base.0;
            let dropped = DROPS.load(Ordering::SeqCst) - base.1;
            assert_eq!((made, dropped), (3, 3));
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn outside_a_task_a_task_local_is_an_error() {
    assert_eq!(COUNT.try_with(Cell::get), Err(AccessError));
    let refused = std::panic::catch_unwind(|| COUNT.with(Cell::get));
    assert!(refused.is_err());
    assert_eq!(rt::task_id(), None);
}

#[test]
fn task_ids_are_distinct_and_readable_inside() {
    watchdog(30, "ids", || {
        each_backend(|rt| {
            let seen = Arc::new(std::sync::Mutex::new(HashSet::new()));
            let handles: Vec<_> = (0..50)
                .map(|_| {
                    let seen = seen.clone();
                    rt.spawn(move || {
                        let id = rt::task_id().expect("inside a task");
                        assert!(seen.lock().unwrap().insert(id), "{id} seen twice");
                        rt::yield_now();
                        assert_eq!(rt::task_id(), Some(id), "stable across parks");
                    })
                })
                .collect();
            handles.into_iter().for_each(|h| h.join().unwrap());
            assert_eq!(seen.lock().unwrap().len(), 50);
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn a_task_that_spawns_hundreds_between_its_parks_keeps_its_locals_id_and_deadline() {
    watchdog(30, "spawns_hundreds", || {
        each_backend(|rt| {
            let (count, same_id, sum, elapsed) = rt.block_on(|| {
                let id = rt::task_id();
                COUNT.with(|c| c.set(7));
                let mut sum = 0;
                let elapsed = rt::timeout(Duration::from_millis(200), || {
                    // More tasks than one chunk of the worker's task table
                    // holds, spawned while this one runs, each parking once.
                    let handles: Vec<_> = (0..300u32)
                        .map(|i| {
                            rt::spawn(move || {
                                rt::yield_now();
                                i
                            })
                        })
                        .collect();
                    rt::yield_now();
                    sum = handles.into_iter().map(|h| h.join().unwrap()).sum::<u32>();
                    COUNT.with(|c| c.set(c.get() + 1));
                    rt::sleep(Duration::from_secs(60));
                });
                (COUNT.with(Cell::get), rt::task_id() == id, sum, elapsed)
            });
            assert_eq!(count, 8, "its own task-local, kept across the spawns");
            assert!(same_id, "its id, kept across the spawns");
            assert_eq!(sum, 299 * 300 / 2, "every spawned task ran");
            assert_eq!(elapsed, Err(rt::Elapsed), "its deadline still fires");
            rt.shutdown(Duration::from_secs(5));
        });
    });
}
