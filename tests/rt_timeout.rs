//! `rt::timeout` / `rt::deadline`: a deadline around any code unwinds it
//! from its park point back to its frame; nested deadlines compose (the
//! earliest fires, only its frame returns `Elapsed`); the unwind poisons
//! no lock and loses no message; `Duration::MAX` means none; outside a
//! task nothing is interrupted. Every test is bounded by a watchdog.

mod rt_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jmpco::rt::channel;
use jmpco::rt::sync::Mutex;
use jmpco::rt::{self, Elapsed};
use rt_support::{each_backend, watchdog};

struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

const MS: Duration = Duration::from_millis(1);

#[test]
fn a_deadline_that_does_not_fire_returns_the_value() {
    watchdog(30, "no_fire", || {
        each_backend(|rt| {
            let got = rt.block_on(|| {
                rt::timeout(Duration::from_secs(5), || {
                    rt::sleep(5 * MS);
                    7
                })
            });
            assert_eq!(got, Ok(7));
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn a_deadline_unwinds_its_closure_from_the_park_point() {
    watchdog(30, "fires", || {
        each_backend(|rt| {
            let drops = Arc::new(AtomicUsize::new(0));
            let d = drops.clone();
            let (got, took, after) = rt.block_on(move || {
                let after = Arc::new(AtomicUsize::new(0));
                let a = after.clone();
                let start = Instant::now();
                let got = rt::timeout(30 * MS, move || {
                    let _guard = Dropped(d);
                    rt::sleep(Duration::from_secs(60));
                    a.fetch_add(1, Ordering::SeqCst);
                });
                (got, start.elapsed(), after.load(Ordering::SeqCst))
            });
            assert_eq!(got, Err(Elapsed));
            assert!(
                took >= 30 * MS && took < Duration::from_secs(5),
                "took {took:?}"
            );
            assert_eq!(drops.load(Ordering::SeqCst), 1, "destructors ran");
            assert_eq!(after, 0, "nothing after the park ran");
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn nested_deadlines_fire_the_earliest_and_only_its_frame_returns_elapsed() {
    watchdog(30, "nested", || {
        each_backend(|rt| {
            rt.block_on(|| {
                // The inner one fires; the outer goes on.
                let outer = rt::timeout(Duration::from_secs(5), || {
                    let inner = rt::timeout(20 * MS, || rt::sleep(Duration::from_secs(60)));
                    (inner, "outer ran on")
                });
                assert_eq!(outer, Ok((Err(Elapsed), "outer ran on")));
                // The outer one fires first: the unwind passes the inner frame.
                let reached = Arc::new(AtomicUsize::new(0));
                let r = reached.clone();
                let outer = rt::timeout(20 * MS, move || {
                    let inner = rt::timeout(Duration::from_secs(5), || {
                        rt::sleep(Duration::from_secs(60))
                    });
                    r.fetch_add(1, Ordering::SeqCst); // never: the inner frame passes it on
                    inner
                });
                assert_eq!(outer, Err(Elapsed));
                assert_eq!(reached.load(Ordering::SeqCst), 0);
                // Both: the inner fires, then the outer.
                let outer = rt::timeout(60 * MS, || {
                    let inner = rt::timeout(10 * MS, || rt::sleep(Duration::from_secs(60)));
                    assert_eq!(inner, Err(Elapsed));
                    rt::sleep(Duration::from_secs(60));
                });
                assert_eq!(outer, Err(Elapsed));
            });
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn a_deadline_unwind_through_a_lock_guard_does_not_poison_it() {
    watchdog(30, "no_poison", || {
        each_backend(|rt| {
            let poisoned = rt.block_on(|| {
                let m = Mutex::new(0);
                let got = rt::timeout(10 * MS, || {
                    let mut g = m.lock().unwrap();
                    *g += 1;
                    rt::sleep(Duration::from_secs(60));
                });
                assert_eq!(got, Err(Elapsed));
                m.is_poisoned()
            });
            assert!(!poisoned);
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

/// A receive under a deadline while a sender hands it a message: the
/// message is received, or it stays in the channel.
#[test]
fn a_deadline_around_a_receive_loses_no_message() {
    watchdog(60, "no_loss", || {
        let rt = rt::Runtime::builder().worker_threads(2).build().unwrap();
        for round in 0..100u32 {
            let (tx, rx) = channel::bounded::<u32>(1);
            let receiver = {
                let rx = rx.clone();
                rt.handle()
                    .spawn_on(0, move || rt::timeout(2 * MS, || rx.recv().ok()))
            };
            let sender = rt.handle().spawn_on(1, move || {
                rt::sleep(2 * MS);
                tx.send(round).unwrap();
            });
            sender.join().unwrap();
            let got = receiver.join().unwrap();
            let queued: Vec<u32> = rx.try_iter().collect();
            match got {
                Ok(Some(v)) => assert!(v == round && queued.is_empty(), "round {round}"),
                Err(Elapsed) => assert_eq!(queued, [round], "round {round}: lost"),
                Ok(None) => panic!("round {round}: the channel disconnected"),
            }
        }
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn duration_max_is_no_deadline_and_a_passed_deadline_fires_at_the_first_park() {
    watchdog(30, "max_and_past", || {
        each_backend(|rt| {
            rt.block_on(|| {
                assert_eq!(
                    rt::timeout(Duration::MAX, || {
                        rt::sleep(5 * MS);
                        1
                    }),
                    Ok(1)
                );
                // Already passed: the closure runs until it first parks.
                let ran = Arc::new(AtomicUsize::new(0));
                let r = ran.clone();
                let got = rt::deadline(Instant::now() - MS, move || {
                    r.fetch_add(1, Ordering::SeqCst);
                    rt::yield_now();
                    r.fetch_add(1, Ordering::SeqCst);
                });
                assert_eq!(got, Err(Elapsed));
                assert_eq!(ran.load(Ordering::SeqCst), 1, "ran up to the park");
            });
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn outside_a_task_the_closure_runs_to_its_end() {
    assert_eq!(rt::timeout(Duration::from_secs(5), || 3), Ok(3));
    let slow = rt::timeout(5 * MS, || std::thread::sleep(20 * MS));
    assert_eq!(slow, Err(Elapsed), "it ended after the deadline");
}
