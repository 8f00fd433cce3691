//! `jmpco::rt::sync`: exclusion, FIFO hand-off, contention, cancellation
//! while parked (no ghost waiter), poisoning (a panic poisons, a
//! cancellation does not), timeouts, tasks and threads on one lock, and
//! the nested-coroutine refusal. Every test is bounded by a watchdog.

mod rt_support;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use jmpco::rt::sync::{AcquireError, Barrier, Condvar, Mutex, RwLock, Semaphore, WaitGroup};
use jmpco::rt::{self, JoinError, Runtime};
use jmpco::Coroutine;
use rt_support::{one_worker, panic_text, watchdog};

fn two_workers() -> Runtime {
    Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("runtime")
}

#[test]
fn a_mutex_serves_its_waiters_in_arrival_order() {
    watchdog(30, "fifo", || {
        let rt = one_worker();
        let order = rt.block_on(|| {
            let m = Arc::new(Mutex::new(Vec::new()));
            let held = m.lock().unwrap();
            let waiters: Vec<_> = (0..6)
                .map(|i| {
                    let m = m.clone();
                    let h = rt::spawn(move || m.lock().unwrap().push(i));
                    rt::yield_now(); // each reaches `lock` before the next
                    h
                })
                .collect();
            rt::sleep(Duration::from_millis(10));
            assert!(waiters.iter().all(|w| !w.is_finished()), "all wait");
            drop(held);
            for w in waiters {
                w.join().unwrap();
            }
            let order = m.lock().unwrap().clone();
            order
        });
        assert_eq!(order, [0, 1, 2, 3, 4, 5]);
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn ten_thousand_tasks_contend_on_one_mutex_with_no_lost_wake_up() {
    watchdog(60, "contention", || {
        let rt = two_workers();
        let m = Arc::new(Mutex::new(0u64));
        let handles: Vec<_> = (0..10_000)
            .map(|i| {
                let m = m.clone();
                rt.spawn(move || {
                    let mut g = m.lock().unwrap();
                    if i % 7 == 0 {
                        rt::yield_now(); // hold it across a park now and then
                    }
                    *g += 1;
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(*m.lock().unwrap(), 10_000);
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn tasks_and_threads_share_one_mutex() {
    watchdog(30, "tasks_and_threads", || {
        let rt = two_workers();
        let m = Arc::new(Mutex::new(0u32));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let m = m.clone();
                rt.spawn(move || {
                    for _ in 0..500 {
                        *m.lock().unwrap() += 1;
                        rt::yield_now();
                    }
                })
            })
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let m = m.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        tasks.into_iter().for_each(|t| t.join().unwrap());
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*m.lock().unwrap(), 3000);
        rt.shutdown(Duration::from_secs(5));
    });
}

/// The holder is cancelled (its guard unwinds: no poisoning), the next
/// waiter is a task cancelled in the same shutdown after being handed the
/// lock: it hands the lock on, and the thread waiting behind it gets it.
#[test]
fn cancelled_holders_and_waiters_leave_no_ghost_and_do_not_poison() {
    watchdog(30, "no_ghost", || {
        let rt = one_worker();
        let m = Arc::new(Mutex::new(0u32));
        let (ready_tx, ready_rx) = mpsc::channel();
        let holder = {
            let (m, ready) = (m.clone(), ready_tx.clone());
            rt.spawn(move || {
                let _g = m.lock().unwrap();
                ready.send(()).unwrap();
                rt::sleep(Duration::from_secs(60));
            })
        };
        ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let waiter = {
            let (m, ready) = (m.clone(), ready_tx.clone());
            rt.spawn(move || {
                ready.send(()).unwrap();
                *m.lock().unwrap() += 100; // cancelled before it runs on
            })
        };
        ready_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let thread = {
            let m = m.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                *m.lock().unwrap() += 1;
                start.elapsed()
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        let report = rt.shutdown(Duration::ZERO);
        assert_eq!(report.cancelled, 2);
        assert!(matches!(holder.join(), Err(JoinError::Cancelled)));
        assert!(matches!(waiter.join(), Err(JoinError::Cancelled)));
        let waited = thread.join().unwrap();
        assert!(waited < Duration::from_secs(5), "the thread got the lock");
        assert!(!m.is_poisoned(), "a cancellation does not poison");
        assert_eq!(*m.lock().unwrap(), 1, "the cancelled waiter never ran on");
    });
}

#[test]
fn a_panic_while_holding_the_guard_poisons_the_mutex() {
    watchdog(30, "poison", || {
        let rt = one_worker();
        let m = Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let task = rt.spawn(move || {
            let _g = m2.lock().unwrap();
            panic!("while holding the lock");
        });
        assert!(task.join().unwrap_err().is_panic());
        assert!(m.is_poisoned());
        let err = m.lock().unwrap_err();
        assert_eq!(*err.into_inner(), 1, "the data is still there");
        m.clear_poison();
        assert!(m.lock().is_ok());
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_semaphore_limits_concurrency_and_times_out() {
    watchdog(30, "semaphore", || {
        let rt = one_worker();
        rt.block_on(|| {
            let sem = Arc::new(Semaphore::new(2));
            let inside = Arc::new(AtomicUsize::new(0));
            let most = Arc::new(AtomicUsize::new(0));
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
                    rt::spawn(move || {
                        let _p = sem.acquire().unwrap();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        rt::sleep(Duration::from_millis(2));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    })
                })
                .collect();
            tasks.into_iter().for_each(|t| t.join().unwrap());
            assert_eq!(most.load(Ordering::SeqCst), 2);
            let _a = sem.acquire().unwrap();
            let _b = sem.acquire().unwrap();
            let start = Instant::now();
            assert_eq!(
                sem.acquire_timeout(Duration::from_millis(20)).unwrap_err(),
                AcquireError::Timeout
            );
            assert!(start.elapsed() >= Duration::from_millis(20));
            assert!(sem.try_acquire().is_none());
        });
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn an_rwlock_shares_readers_and_a_waiting_writer_holds_back_new_readers() {
    watchdog(30, "rwlock", || {
        let rt = one_worker();
        let log = rt.block_on(|| {
            let lock = Arc::new(RwLock::new(Vec::<&str>::new()));
            let r1 = lock.read().unwrap();
            let r2 = lock.read().unwrap(); // readers share
            let writer = {
                let lock = lock.clone();
                rt::spawn(move || lock.write().unwrap().push("writer"))
            };
            rt::yield_now(); // the writer queues
            let late_reader = {
                let lock = lock.clone();
                rt::spawn(move || {
                    let seen = lock.read().unwrap().clone();
                    seen.len()
                })
            };
            rt::yield_now();
            assert!(
                lock.try_read().is_err(),
                "a waiting writer holds back readers"
            );
            drop((r1, r2));
            writer.join().unwrap();
            assert_eq!(late_reader.join().unwrap(), 1, "it read after the writer");
            let log = lock.read().unwrap().clone();
            log
        });
        assert_eq!(log, ["writer"]);
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_condvar_wakes_one_then_all_and_times_out() {
    watchdog(30, "condvar", || {
        let rt = two_workers();
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let woken = Arc::new(AtomicUsize::new(0));
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let (pair, woken) = (pair.clone(), woken.clone());
                rt.spawn(move || {
                    let (m, cv) = &*pair;
                    let g = m.lock().unwrap();
                    let g = cv.wait_while(g, |n| *n == 0).unwrap();
                    drop(g);
                    woken.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(woken.load(Ordering::SeqCst), 0);
        {
            let (m, cv) = &*pair;
            *m.lock().unwrap() = 1;
            cv.notify_all();
        }
        waiters.into_iter().for_each(|w| w.join().unwrap());
        assert_eq!(woken.load(Ordering::SeqCst), 4);
        // A timed wait with no notification times out, inside a task too.
        let timed_out = rt.block_on(move || {
            let (m, cv) = &*pair;
            let g = m.lock().unwrap();
            let start = Instant::now();
            let (_g, r) = cv.wait_timeout(g, Duration::from_millis(20)).unwrap();
            r.timed_out() && start.elapsed() >= Duration::from_millis(20)
        });
        assert!(timed_out);
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_barrier_releases_tasks_and_threads_together_each_round() {
    watchdog(30, "barrier", || {
        let rt = two_workers();
        let barrier = Arc::new(Barrier::new(4));
        let leaders = Arc::new(AtomicUsize::new(0));
        let run = |barrier: Arc<Barrier>, leaders: Arc<AtomicUsize>| {
            move || {
                for _ in 0..50 {
                    if barrier.wait().is_leader() {
                        leaders.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }
        };
        let tasks: Vec<_> = (0..2)
            .map(|_| rt.spawn(run(barrier.clone(), leaders.clone())))
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|_| std::thread::spawn(run(barrier.clone(), leaders.clone())))
            .collect();
        tasks.into_iter().for_each(|t| t.join().unwrap());
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(leaders.load(Ordering::SeqCst), 50, "one leader a round");
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_wait_group_waits_for_every_clone() {
    watchdog(30, "wait_group", || {
        let rt = one_worker();
        let count = rt.block_on(|| {
            let wg = WaitGroup::new();
            let done = Arc::new(AtomicUsize::new(0));
            for i in 0..20u64 {
                let (wg, done) = (wg.clone(), done.clone());
                rt::spawn(move || {
                    rt::sleep(Duration::from_millis(i % 5));
                    done.fetch_add(1, Ordering::SeqCst);
                    drop(wg);
                });
            }
            wg.wait();
            done.load(Ordering::SeqCst)
        });
        assert_eq!(count, 20);
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_contended_lock_in_a_coroutine_nested_in_a_task_panics_naming_the_nesting() {
    watchdog(30, "nested_lock", || {
        let rt = one_worker();
        let message = rt.block_on(|| {
            let m = Arc::new(Mutex::new(()));
            let held = m.lock().unwrap();
            let m2 = m.clone();
            let mut nested: Coroutine<(), (), _> = Coroutine::new(move |_, ()| {
                assert!(m2.try_lock().is_err());
                panic::catch_unwind(AssertUnwindSafe(|| drop(m2.lock()))).unwrap_err()
            });
            let payload = nested.resume(()).as_return().expect("returns");
            drop(held);
            panic_text(payload.as_ref())
        });
        assert!(message.contains("nested in a task"), "{message}");
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_failed_try_acquire_takes_and_gives_back_nothing() {
    let sem = Semaphore::new(1);
    let held = sem.try_acquire().expect("the permit");
    for _ in 0..3 {
        assert!(sem.try_acquire().is_none());
    }
    assert_eq!(
        sem.available_permits(),
        0,
        "a refused try_acquire added a permit"
    );
    drop(held);
    assert_eq!(sem.available_permits(), 1);
}
