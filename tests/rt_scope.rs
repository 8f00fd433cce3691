//! `rt::scope`: children that borrow the caller's (non-`Send`) locals,
//! joined before the scope returns; a child's or the body's panic cancels
//! the others and propagates; a parent cancelled (or timed out) mid-scope
//! ends its children before its frames unwind. Every test is bounded by a
//! watchdog.

mod rt_support;

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use jmpco::rt::{self, Elapsed, JoinError};
use rt_support::{each_backend, panic_text, watchdog};

struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn children_borrow_the_callers_non_send_locals_and_all_end_first() {
    watchdog(30, "borrow", || {
        each_backend(|rt| {
            let (log, values) = rt.block_on(|| {
                let log = RefCell::new(Vec::new());
                let values = rt::scope(|s| {
                    let handles: Vec<_> = (0..5u64)
                        .map(|i| {
                            let log = &log;
                            s.spawn(move || {
                                rt::sleep(Duration::from_millis(10 * (5 - i)));
                                log.borrow_mut().push(i);
                                i * 10
                            })
                        })
                        .collect();
                    // Unjoined children are joined by the scope itself.
                    let log = &log;
                    s.spawn(move || log.borrow_mut().push(99));
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap())
                        .collect::<Vec<_>>()
                });
                (log.into_inner(), values)
            });
            assert_eq!(values, [0, 10, 20, 30, 40]);
            assert_eq!(
                log.len(),
                6,
                "every child ran before scope returned: {log:?}"
            );
            assert_eq!(log[0], 99);
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn a_child_panic_cancels_the_others_and_propagates() {
    watchdog(30, "child_panic", || {
        each_backend(|rt| {
            let drops = Arc::new(AtomicUsize::new(0));
            let d = drops.clone();
            let (message, took) = rt.block_on(move || {
                let start = Instant::now();
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    rt::scope(|s| {
                        for _ in 0..3 {
                            let d = d.clone();
                            s.spawn(move || {
                                let _guard = Dropped(d);
                                rt::sleep(Duration::from_secs(60));
                            });
                        }
                        s.spawn(|| {
                            rt::sleep(Duration::from_millis(10));
                            panic!("a child's panic");
                        });
                    })
                }));
                (panic_text(caught.unwrap_err().as_ref()), start.elapsed())
            });
            assert_eq!(message, "a child's panic");
            assert_eq!(drops.load(Ordering::SeqCst), 3, "the others were cancelled");
            assert!(took < Duration::from_secs(5), "took {took:?}");
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn a_body_panic_cancels_the_children_and_propagates() {
    watchdog(30, "body_panic", || {
        each_backend(|rt| {
            let drops = Arc::new(AtomicUsize::new(0));
            let d = drops.clone();
            let message = rt.block_on(move || {
                let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    rt::scope(|s| {
                        let d = d.clone();
                        s.spawn(move || {
                            let _guard = Dropped(d);
                            rt::sleep(Duration::from_secs(60));
                        });
                        rt::yield_now();
                        panic!("the body's panic");
                    })
                }));
                panic_text(caught.unwrap_err().as_ref())
            });
            assert_eq!(message, "the body's panic");
            assert_eq!(drops.load(Ordering::SeqCst), 1);
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

/// The parent is cancelled while its scope waits: each child unwinds first
/// (its destructor still reaching the parent's borrowed local), then the
/// parent's frames.
#[test]
fn a_parent_cancelled_mid_scope_ends_its_children_before_its_frames_unwind() {
    watchdog(30, "parent_cancelled", || {
        each_backend(|rt| {
            let order = Arc::new(std::sync::Mutex::new(Vec::new()));
            let (parked_tx, parked_rx) = mpsc::channel();
            let parent = {
                let order = order.clone();
                rt.spawn(move || {
                    struct Note(Arc<std::sync::Mutex<Vec<&'static str>>>, &'static str);
                    impl Drop for Note {
                        fn drop(&mut self) {
                            self.0.lock().unwrap().push(self.1);
                        }
                    }
                    let _parent_local = Note(order.clone(), "parent");
                    let borrowed = RefCell::new(0u32);
                    rt::scope(|s| {
                        for _ in 0..2 {
                            let (borrowed, order) = (&borrowed, order.clone());
                            s.spawn(move || {
                                struct Child<'a>(
                                    &'a RefCell<u32>,
                                    Arc<std::sync::Mutex<Vec<&'static str>>>,
                                );
                                impl Drop for Child<'_> {
                                    fn drop(&mut self) {
                                        *self.0.borrow_mut() += 1; // the borrow is still good
                                        self.1.lock().unwrap().push("child");
                                    }
                                }
                                let _c = Child(borrowed, order);
                                rt::sleep(Duration::from_secs(60));
                            });
                        }
                        parked_tx.send(()).unwrap();
                    });
                })
            };
            parked_rx.recv_timeout(Duration::from_secs(5)).unwrap();
            std::thread::sleep(Duration::from_millis(20));
            parent.abort();
            assert!(matches!(parent.join(), Err(JoinError::Cancelled)));
            assert_eq!(*order.lock().unwrap(), ["child", "child", "parent"]);
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn a_timeout_around_a_scope_cancels_its_children_and_returns_elapsed() {
    watchdog(30, "timeout_scope", || {
        each_backend(|rt| {
            let drops = Arc::new(AtomicUsize::new(0));
            let d = drops.clone();
            let (got, took) = rt.block_on(move || {
                let start = Instant::now();
                let got = rt::timeout(Duration::from_millis(30), || {
                    rt::scope(|s| {
                        for _ in 0..3 {
                            let d = d.clone();
                            s.spawn(move || {
                                let _guard = Dropped(d);
                                rt::sleep(Duration::from_secs(60));
                            });
                        }
                    })
                });
                (got, start.elapsed())
            });
            assert_eq!(got, Err(Elapsed));
            assert_eq!(drops.load(Ordering::SeqCst), 3);
            assert!(took < Duration::from_secs(5), "took {took:?}");
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn a_scope_outside_a_task_panics() {
    let refused = std::panic::catch_unwind(|| rt::scope(|_| ()));
    assert!(refused.is_err());
}
