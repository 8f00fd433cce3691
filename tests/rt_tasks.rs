//! Tasks, time and faults: spawn and join, sleep and timeout accuracy,
//! yield, readers and writers of one fd, panics, blocking work, shutdown.

mod rt_support;

use std::io::{ErrorKind, IoSlice, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use jmpco::rt::{self, Interest, JoinError, Runtime, TcpStream, UnixStream};
use jmpco::Backend;
use rt_support::{client, read_n, watchdog};

fn runtime(workers: usize, backend: Backend) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .backend(backend)
        .build()
        .unwrap()
}

#[test]
fn spawn_and_join_from_a_task_and_from_outside() {
    watchdog(30, "join", || {
        for backend in Backend::ALL {
            let rt = runtime(2, backend);
            // From outside: a plain thread blocks on join.
            let h = rt.spawn(|| 6 * 7);
            assert_eq!(h.join().unwrap(), 42);
            // From a task: children on the same worker, joined in reverse.
            let total = rt.block_on(|| {
                let hs: Vec<_> = (0..100u64)
                    .map(|i| {
                        rt::spawn(move || {
                            rt::yield_now();
                            i
                        })
                    })
                    .collect();
                hs.into_iter().rev().map(|h| h.join().unwrap()).sum::<u64>()
            });
            assert_eq!(total, 4950);
            // From a task on one worker, a task on another.
            let handle = rt.handle().clone();
            let v = rt.block_on(move || {
                handle
                    .spawn_on(1, || {
                        rt::sleep(Duration::from_millis(5));
                        "other worker"
                    })
                    .join()
                    .unwrap()
            });
            assert_eq!(v, "other worker");
            rt.shutdown(Duration::ZERO);
        }
    });
}

#[test]
fn join_reports_the_panic_of_a_task() {
    watchdog(30, "join_panic", || {
        let rt = runtime(1, Backend::Sjlj);
        let err = rt
            .spawn(|| -> u8 { panic!("boom in a task") })
            .join()
            .unwrap_err();
        assert!(err.is_panic());
        assert_eq!(
            err.into_panic().downcast_ref::<&str>(),
            Some(&"boom in a task")
        );
        // The worker goes on.
        assert_eq!(rt.block_on(|| 1), 1);
    });
}

#[test]
fn sleep_wakes_within_a_few_ms_of_its_deadline() {
    watchdog(30, "sleep", || {
        let rt = runtime(1, Backend::Sjlj);
        let late: Vec<Duration> = rt.block_on(|| {
            // 50 concurrent sleepers with different durations.
            let hs: Vec<_> = (0..50u64)
                .map(|i| {
                    rt::spawn(move || {
                        let d = Duration::from_millis(10 + 3 * i);
                        let t = Instant::now();
                        rt::sleep(d);
                        t.elapsed().checked_sub(d).expect("woke early")
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut late = late;
        late.sort();
        let median = late[late.len() / 2];
        assert!(
            median < Duration::from_millis(4),
            "median lateness {median:?}"
        );
        // The worst one may be late on a loaded machine; never absurdly.
        assert!(
            late[late.len() - 1] < Duration::from_millis(500),
            "{late:?}"
        );
    });
}

#[test]
fn read_timeout_fails_with_timed_out_on_time() {
    watchdog(30, "read_timeout", || {
        let rt = runtime(1, Backend::Sjlj);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // Five timed-out reads: every one fails with TimedOut, none early,
        // and the median is within a few ms of the deadline (a single read
        // can be late on a loaded machine; the median says the timer is right).
        let results = rt.block_on(move || {
            let s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(30)));
            (0..5)
                .map(|_| {
                    let t = Instant::now();
                    let err = (&s).read(&mut [0u8; 8]).unwrap_err();
                    (t.elapsed(), err.kind())
                })
                .collect::<Vec<_>>()
        });
        drop(listener);
        let mut elapsed: Vec<Duration> = results
            .iter()
            .map(|&(e, kind)| {
                assert_eq!(kind, ErrorKind::TimedOut);
                assert!(e >= Duration::from_millis(30), "woke early: {e:?}");
                e
            })
            .collect();
        elapsed.sort();
        assert!(elapsed[2] < Duration::from_millis(40), "median {elapsed:?}");
        assert!(elapsed[4] < Duration::from_millis(500), "{elapsed:?}");
    });
}

#[test]
fn wait_fd_waits_for_readiness_and_times_out() {
    use std::os::fd::AsRawFd;
    watchdog(30, "wait_fd", || {
        let rt = runtime(1, Backend::Sjlj);
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let r = rt.block_on(move || {
            let fd = a.as_raw_fd();
            let t = Instant::now();
            let timed_out = rt::wait_fd(fd, Interest::READABLE, Some(Duration::from_millis(20)));
            let waited = t.elapsed();
            // Writable at once; readable once the peer writes.
            rt::wait_fd(fd, Interest::WRITABLE, Some(Duration::ZERO)).unwrap();
            let writer = rt::spawn(move || {
                rt::sleep(Duration::from_millis(10));
                (&b).write_all(b"x").unwrap();
                b
            });
            rt::wait_fd(fd, Interest::READABLE, Some(Duration::from_secs(5))).unwrap();
            drop(writer.join());
            (timed_out.unwrap_err().kind(), waited)
        });
        assert_eq!(r.0, ErrorKind::TimedOut);
        // Never early; the timer's accuracy is checked by the medians of
        // the sleep and read-timeout tests, so a loaded machine gets slack.
        assert!(
            r.1 >= Duration::from_millis(20) && r.1 < Duration::from_millis(500),
            "{:?}",
            r.1
        );
    });
}

/// While worker 0 of `rt` is kept busy, a task of it that sleeps 20 ms
/// then reads a byte sent 50 ms later, and a spawn from this thread (which
/// reaches the worker through its mailbox), both complete.
fn assert_timers_io_and_mailbox_get_a_turn(rt: &Runtime) {
    let (mut ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let reader = rt.handle().spawn_on(0, move || {
        let start = Instant::now();
        rt::sleep(Duration::from_millis(20));
        let slept = start.elapsed();
        let mut stream = UnixStream::from_std(theirs).unwrap();
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).unwrap();
        (slept, byte[0])
    });
    thread::sleep(Duration::from_millis(50));
    ours.write_all(b"y").unwrap();
    let from_outside = rt.spawn(|| 7);
    assert_eq!(from_outside.join().unwrap(), 7, "the mailbox got a turn");
    let (slept, byte) = reader.join().unwrap();
    assert_eq!(byte, b'y', "I/O got a turn");
    assert!(
        slept < Duration::from_secs(5),
        "the timer got a turn: {slept:?}"
    );
}

/// A loop turn resumes ready tasks until none is left or it has made its
/// budget of resumes; tasks that yield to each other forever must still
/// leave the worker's timers, its I/O and its mailbox (other threads'
/// spawns) their turn.
#[test]
fn tasks_that_yield_forever_leave_timers_io_and_other_threads_a_turn() {
    watchdog(30, "yielders", || {
        let rt = runtime(1, Backend::default());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let yields = Arc::new(AtomicUsize::new(0));
        let spinners: Vec<_> = (0..2)
            .map(|_| {
                let (stop, yields) = (stop.clone(), yields.clone());
                rt.handle().spawn_on(0, move || {
                    while !stop.load(Ordering::Relaxed) {
                        yields.fetch_add(1, Ordering::Relaxed);
                        rt::yield_now();
                    }
                })
            })
            .collect();
        assert_timers_io_and_mailbox_get_a_turn(&rt);
        stop.store(true, Ordering::Relaxed);
        for spinner in spinners {
            spinner.join().unwrap();
        }
        assert!(yields.load(Ordering::Relaxed) > 0);
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn readers_and_writers_of_one_stream_wait_independently() {
    watchdog(30, "split", || {
        let rt = runtime(1, Backend::Sjlj);
        let n = rt.block_on(|| {
            let (a, b) = UnixStream::pair().unwrap();
            let a = std::rc::Rc::new(a);
            // One task reads `a` while another writes it; the peer echoes.
            let echo = rt::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match (&b).read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => (&b).write_all(&buf[..n]).unwrap(),
                    }
                }
            });
            let w = a.clone();
            let writer = rt::spawn(move || {
                for _ in 0..256 {
                    (&*w).write_all(&[7u8; 4096]).unwrap();
                }
                w.shutdown(std::net::Shutdown::Write).unwrap();
            });
            let mut got = 0;
            let mut buf = [0u8; 1000];
            loop {
                match (&*a).read(&mut buf).unwrap() {
                    0 => break,
                    n => got += n,
                }
            }
            writer.join().unwrap();
            echo.join().unwrap();
            got
        });
        assert_eq!(n, 256 * 4096);
    });
}

#[test]
fn vectored_writes_park_on_a_full_buffer_and_keep_their_order() {
    watchdog(30, "vectored", || {
        let rt = runtime(1, Backend::Sjlj);
        let got = rt.block_on(|| {
            let (a, mut b) = UnixStream::pair().unwrap();
            // 600 KB through a socket buffer of ~200 KB: the writer parks.
            let writer = rt::spawn(move || {
                let mut a = a;
                let (head, tail) = (vec![1u8; 300_000], vec![2u8; 300_000]);
                let (mut h, mut t) = (&head[..], &tail[..]);
                while !h.is_empty() || !t.is_empty() {
                    let n = a
                        .write_vectored(&[IoSlice::new(h), IoSlice::new(t)])
                        .unwrap();
                    assert!(n > 0, "a parked write returns data written");
                    let from_head = n.min(h.len());
                    h = &h[from_head..];
                    t = &t[n - from_head..];
                }
            }); // drops `a`: the reader sees the end
            let mut got = Vec::new();
            b.read_to_end(&mut got).unwrap();
            writer.join().unwrap();
            got
        });
        assert_eq!(got.len(), 600_000);
        assert!(got[..300_000].iter().all(|&x| x == 1));
        assert!(got[300_000..].iter().all(|&x| x == 2));
    });
}

#[test]
fn a_panicking_handler_ends_only_its_connection() {
    watchdog(30, "panic_handler", || {
        let rt = runtime(1, Backend::Sjlj);
        let addr = rt
            .serve("127.0.0.1:0".parse().unwrap(), |mut s| {
                let mut first = [0u8; 1];
                s.read_exact(&mut first).unwrap();
                if first[0] == b'!' {
                    panic!("handler asked to panic");
                }
                s.write_all(&first).unwrap();
                rt_support::echo(s);
            })
            .unwrap();
        let mut good = client(addr);
        good.write_all(b"a").unwrap();
        assert_eq!(read_n(&mut good, 1).unwrap(), b"a");
        let mut bad = client(addr);
        bad.write_all(b"!").unwrap();
        let mut rest = Vec::new();
        // The panicking task's stack unwound: its socket closed.
        assert_eq!(bad.read_to_end(&mut rest).unwrap(), 0);
        good.write_all(b"still here").unwrap();
        assert_eq!(read_n(&mut good, 10).unwrap(), b"still here");
        let mut fresh = client(addr);
        fresh.write_all(b"z").unwrap();
        assert_eq!(read_n(&mut fresh, 1).unwrap(), b"z");
    });
}

#[test]
fn blocking_work_runs_off_the_worker() {
    watchdog(30, "blocking", || {
        let rt = runtime(1, Backend::Sjlj);
        let ticks = rt.block_on(|| {
            let ticker = rt::spawn(|| {
                let mut n = 0;
                for _ in 0..20 {
                    rt::sleep(Duration::from_millis(5));
                    n += 1;
                }
                n
            });
            // 150 ms of thread-blocking work: the ticker keeps ticking.
            let v = rt::unblock(|| {
                thread::sleep(Duration::from_millis(150));
                5
            });
            assert_eq!(v, 5);
            let err = rt::spawn_blocking(|| -> () { panic!("blocking boom") })
                .join()
                .unwrap_err();
            assert!(err.is_panic());
            ticker.join().unwrap()
        });
        assert_eq!(ticks, 20);
    });
}

/// Counts drops, so a test can see a cancelled task's stack unwind.
struct Guard(Arc<AtomicUsize>);
impl Drop for Guard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn shutdown_lets_live_connections_finish_then_cancels_the_rest() {
    watchdog(30, "shutdown", || {
        for backend in Backend::ALL {
            for workers in [1, 2] {
                let rt = runtime(workers, backend);
                let dropped = Arc::new(AtomicUsize::new(0));
                let finished = Arc::new(Mutex::new(Vec::new()));
                let (d, f) = (dropped.clone(), finished.clone());
                let addr = rt
                    .serve("127.0.0.1:0".parse().unwrap(), move |mut s| {
                        let _guard = Guard(d.clone());
                        let mut cmd = [0u8; 1];
                        s.read_exact(&mut cmd).unwrap();
                        if cmd[0] == b'q' {
                            // Quick: finishes within the grace period.
                            rt::sleep(Duration::from_millis(50));
                            s.write_all(b"done").unwrap();
                            f.lock().unwrap().push("quick");
                        } else {
                            // Slow: still parked at the deadline.
                            rt::sleep(Duration::from_secs(60));
                            f.lock().unwrap().push("slow");
                        }
                    })
                    .unwrap();
                let mut quick = client(addr);
                let mut slow = client(addr);
                quick.write_all(b"q").unwrap();
                slow.write_all(b"s").unwrap();
                thread::sleep(Duration::from_millis(20));
                let t = Instant::now();
                let report = rt.shutdown(Duration::from_millis(300));
                let took = t.elapsed();
                assert_eq!(read_n(&mut quick, 4).unwrap(), b"done");
                assert_eq!(*finished.lock().unwrap(), ["quick"]);
                // Both handlers' stacks unwound; the slow one and every
                // accept loop were cancelled.
                assert_eq!(dropped.load(Ordering::SeqCst), 2);
                assert_eq!(report.cancelled, 1 + workers as u64);
                let mut rest = Vec::new();
                assert_eq!(slow.read_to_end(&mut rest).unwrap_or(0), 0);
                assert!(
                    took >= Duration::from_millis(250) && took < Duration::from_secs(2),
                    "{took:?}"
                );
                // The listener is closed.
                assert!(std::net::TcpStream::connect(addr).is_err());
            }
        }
    });
}

#[test]
fn spawning_on_a_stopped_runtime_reports_cancelled_instead_of_hanging() {
    watchdog(30, "spawn_after_shutdown", || {
        let rt = runtime(2, Backend::Sjlj);
        let handle = rt.handle().clone();
        // A task parked forever is cancelled by shutdown; its joiner hears so.
        let parked = rt.spawn(|| rt::sleep(Duration::from_secs(3600)));
        let report = rt.shutdown(Duration::ZERO);
        assert_eq!(report.cancelled, 1);
        assert!(matches!(parked.join(), Err(rt::JoinError::Cancelled)));
        assert!(matches!(
            handle.spawn(|| 1).join(),
            Err(rt::JoinError::Cancelled)
        ));
    });
}

/// Two tasks that exchange messages forever hand the worker to each other
/// from their parks (a parking task runs the next ready one itself); those
/// hand-offs count in the loop's budget, so the worker's timers, its I/O
/// and its mailbox still get their turn.
#[test]
fn tasks_exchanging_messages_forever_leave_timers_io_and_other_threads_a_turn() {
    watchdog(30, "exchangers", || {
        let rt = runtime(1, Backend::default());
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ping_tx, ping_rx) = rt::channel::bounded::<u64>(1);
        let (pong_tx, pong_rx) = rt::channel::bounded::<u64>(1);
        let echoer = rt.handle().spawn_on(0, move || {
            for m in ping_rx.iter() {
                if pong_tx.send(m).is_err() {
                    return;
                }
            }
        });
        let pinger = {
            let stop = stop.clone();
            rt.handle().spawn_on(0, move || {
                let mut rounds = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    ping_tx.send(rounds).unwrap();
                    assert_eq!(pong_rx.recv(), Ok(rounds));
                    rounds += 1;
                }
                rounds
            })
        };
        assert_timers_io_and_mailbox_get_a_turn(&rt);
        stop.store(true, Ordering::Relaxed);
        assert!(pinger.join().unwrap() > 0, "they exchanged messages");
        echoer.join().unwrap();
        rt.shutdown(Duration::from_secs(5));
    });
}

/// A task that ends, panics or aborts another while it runs in a hand-off
/// (resumed from the park of a task the loop runs, here one that spawned it
/// and waits for it) is settled as if the loop had run it: its value, its
/// panic and the abort all reach their join handles, and the runtime goes
/// on.
#[test]
fn tasks_that_end_panic_or_abort_inside_a_hand_off_are_settled_as_usual() {
    watchdog(30, "hand_off_outcomes", || {
        for backend in Backend::ALL {
            let rt = runtime(1, backend);
            // Each outer task is spawned from this thread, so the loop runs
            // it; it spawns the inner one (queued) and parks in its join,
            // handing the worker to it.
            let value = rt.spawn(|| rt::spawn(|| 21 * 2).join().unwrap());
            assert_eq!(
                value.join().unwrap(),
                42,
                "{backend:?}: the value came back"
            );
            let panicked = rt.spawn(|| rt::spawn(|| panic!("inside a hand-off")).join().is_err());
            assert!(panicked.join().unwrap(), "{backend:?}: the panic came back");
            let (me_tx, me_rx) = rt::channel::bounded::<rt::AbortHandle>(1);
            let victim = rt.spawn(move || {
                let me = me_rx.recv().unwrap();
                // The killer aborts the task whose park runs it.
                let _ = rt::spawn(move || me.abort()).join();
                rt::sleep(Duration::from_secs(60));
            });
            me_tx.send(victim.abort_handle()).unwrap();
            let aborted = victim.join();
            assert!(
                matches!(aborted, Err(JoinError::Cancelled)),
                "{backend:?}: {aborted:?}"
            );
            // A task aborted in a hand-off whose cancellation aborts the task
            // that ran it: the loop settles both, each once.
            let (a_tx, a_rx) = rt::channel::bounded::<rt::AbortHandle>(1);
            let outer = rt.spawn(move || {
                let me = a_rx.recv().unwrap();
                let (b_tx, b_rx) = rt::channel::bounded::<rt::AbortHandle>(1);
                let inner = rt::spawn(move || {
                    let _guard = AbortOnDrop(me);
                    let myself = b_rx.recv().unwrap();
                    myself.abort(); // while it runs: at its next park
                    rt::sleep(Duration::from_secs(60));
                });
                b_tx.send(inner.abort_handle()).unwrap();
                let _ = inner.join(); // hands the worker to `inner`
                rt::sleep(Duration::from_secs(60));
            });
            a_tx.send(outer.abort_handle()).unwrap();
            let outer = outer.join();
            assert!(
                matches!(outer, Err(JoinError::Cancelled)),
                "{backend:?}: {outer:?}"
            );
            // The worker goes on.
            assert_eq!(rt.spawn(|| 7).join().unwrap(), 7);
            rt.shutdown(Duration::from_secs(5));
        }
    });
}

/// Aborts a task when dropped.
struct AbortOnDrop(rt::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
