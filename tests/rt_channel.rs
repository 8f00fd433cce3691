//! `jmpco::rt::channel`: ordering, capacity and backpressure, rendezvous,
//! disconnection, timeouts, use across workers and threads, contention,
//! and cancellation while parked with every message counted. Every test
//! is bounded by a watchdog.

mod rt_support;

#[allow(dead_code)] // its `main` is the example's
#[path = "../examples/chan_roundtrip.rs"]
mod chan_roundtrip;

use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jmpco::rt::channel::{self, RecvTimeoutError, SendTimeoutError, TryRecvError, TrySendError};
use jmpco::rt::{self, JoinError, Runtime};
use jmpco::{Backend, Coroutine};
use rt_support::{assert_delivered_once, one_worker, panic_text, watchdog};

fn runtime(workers: usize, backend: Backend) -> Runtime {
    Runtime::builder()
        .worker_threads(workers)
        .backend(backend)
        .build()
        .expect("runtime")
}

#[test]
fn messages_arrive_in_order_between_tasks_of_one_worker() {
    watchdog(30, "order", || {
        for backend in Backend::ALL {
            let rt = runtime(1, backend);
            let got = rt.block_on(|| {
                let (tx, rx) = channel::bounded(1);
                let producer = rt::spawn(move || {
                    for i in 0..1000u32 {
                        tx.send(i).unwrap();
                    }
                });
                let got: Vec<u32> = rx.iter().collect();
                producer.join().unwrap();
                got
            });
            assert_eq!(got, (0..1000).collect::<Vec<_>>(), "{backend:?}");
            rt.shutdown(Duration::from_secs(5));
        }
    });
}

#[test]
fn a_bounded_channel_holds_its_capacity_then_makes_senders_wait() {
    watchdog(30, "backpressure", || {
        let rt = one_worker();
        rt.block_on(|| {
            let (tx, rx) = channel::bounded(2);
            assert_eq!(tx.capacity(), Some(2));
            tx.try_send(1).unwrap();
            tx.send(2).unwrap();
            assert!(tx.is_full());
            assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
            let waiting = rt::spawn({
                let tx = tx.clone();
                move || {
                    let start = Instant::now();
                    tx.send(3).unwrap();
                    start.elapsed()
                }
            });
            rt::sleep(Duration::from_millis(30));
            assert!(!waiting.is_finished(), "the sender waits while full");
            assert_eq!(rx.recv(), Ok(1));
            let waited = waiting.join().unwrap();
            assert!(waited >= Duration::from_millis(25), "waited {waited:?}");
            assert_eq!(rx.try_iter().collect::<Vec<_>>(), [2, 3]);
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        });
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_rendezvous_send_waits_until_a_receiver_takes_the_value() {
    watchdog(30, "rendezvous", || {
        let rt = one_worker();
        rt.block_on(|| {
            let (tx, rx) = channel::bounded::<&str>(0);
            assert_eq!(tx.try_send("early"), Err(TrySendError::Full("early")));
            let sender = rt::spawn(move || {
                tx.send("hello").unwrap();
                Instant::now()
            });
            rt::sleep(Duration::from_millis(20));
            assert!(!sender.is_finished(), "no receiver yet");
            assert_eq!(rx.len(), 0, "a rendezvous channel queues nothing");
            let received_at = Instant::now();
            assert_eq!(rx.recv(), Ok("hello"));
            assert!(sender.join().unwrap() >= received_at);
        });
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn an_unbounded_channel_never_makes_a_sender_wait() {
    let (tx, rx) = channel::unbounded();
    for i in 0..100_000u32 {
        tx.try_send(i).unwrap();
    }
    assert_eq!(rx.len(), 100_000);
    assert_eq!(tx.capacity(), None);
    assert_eq!(rx.iter().take(3).collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn with_every_sender_gone_receivers_drain_then_fail() {
    watchdog(30, "senders_gone", || {
        let (tx, rx) = channel::bounded(4);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        drop(tx);
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert!(rx.recv().is_err());
        // A receiver already waiting is woken by the last sender's drop.
        let rt = one_worker();
        let result = rt.block_on(|| {
            let (tx, rx) = channel::bounded::<u8>(1);
            let waiting = rt::spawn(move || rx.recv_timeout(Duration::from_secs(10)));
            rt::sleep(Duration::from_millis(10));
            drop(tx);
            waiting.join().unwrap()
        });
        assert_eq!(result, Err(RecvTimeoutError::Disconnected));
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn with_every_receiver_gone_sends_fail_and_give_the_value_back() {
    watchdog(30, "receivers_gone", || {
        let (tx, rx) = channel::bounded(1);
        drop(rx);
        assert_eq!(tx.send(String::from("a")).unwrap_err().into_inner(), "a");
        assert!(tx.try_send(1.to_string()).unwrap_err().is_disconnected());
        // A sender already waiting is woken by the last receiver's drop.
        let rt = one_worker();
        let result = rt.block_on(|| {
            let (tx, rx) = channel::bounded(1);
            tx.send(0).unwrap();
            let waiting = rt::spawn(move || tx.send_timeout(7, Duration::from_secs(10)));
            rt::sleep(Duration::from_millis(10));
            drop(rx);
            waiting.join().unwrap()
        });
        assert_eq!(result, Err(SendTimeoutError::Disconnected(7)));
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn timeouts_give_up_on_time_and_duration_max_means_forever() {
    watchdog(30, "timeouts", || {
        let rt = one_worker();
        rt.block_on(|| {
            let (tx, rx) = channel::bounded(1);
            let start = Instant::now();
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(30)),
                Err(RecvTimeoutError::Timeout)
            );
            assert!(start.elapsed() >= Duration::from_millis(30));
            tx.send(1).unwrap();
            let start = Instant::now();
            assert_eq!(
                tx.send_timeout(2, Duration::from_millis(30)),
                Err(SendTimeoutError::Timeout(2)),
                "the value comes back"
            );
            assert!(start.elapsed() >= Duration::from_millis(30));
            assert_eq!(rx.recv_timeout(Duration::ZERO), Ok(1), "ready now");
            let late = rt::spawn(move || {
                rt::sleep(Duration::from_millis(20));
                tx.send(3).unwrap();
            });
            assert_eq!(rx.recv_timeout(Duration::MAX), Ok(3));
            late.join().unwrap();
        });
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn tasks_of_two_workers_exchange_messages_both_ways() {
    watchdog(30, "two_workers", || {
        let rt = runtime(2, Backend::default());
        let (ping_tx, ping_rx) = channel::bounded::<u32>(1);
        let (pong_tx, pong_rx) = channel::bounded::<u32>(1);
        let echo = rt.handle().spawn_on(1, move || {
            for v in ping_rx.iter() {
                pong_tx.send(v + 1).unwrap();
            }
        });
        let total = rt.handle().spawn_on(0, move || {
            let mut total = 0;
            for i in 0..2000 {
                ping_tx.send(i).unwrap();
                total += pong_rx.recv().unwrap();
            }
            total
        });
        assert_eq!(total.join().unwrap(), (1..=2000).sum::<u32>());
        echo.join().unwrap();
        rt.shutdown(Duration::from_secs(5));
    });
}

/// A worker that goes idle after mail spins briefly for more before it
/// sleeps; a message posted as it gives up must still wake it (the
/// mailbox's `sleeping` / `notified` handshake). The echo's reply comes
/// after 17 to 25 µs of work, so the other worker catches some replies
/// spinning and sleeps through others, and its wake-up races the post.
/// A lost wake-up shows as a round that lasts until the receive's timer.
#[test]
fn replies_around_a_spinning_workers_sleep_lose_no_wake_up() {
    watchdog(60, "spin_then_sleep", || {
        let rt = runtime(2, Backend::default());
        let (ping_tx, ping_rx) = channel::bounded::<u32>(1);
        let (pong_tx, pong_rx) = channel::bounded::<u32>(1);
        let echo = rt.handle().spawn_on(1, move || {
            for v in ping_rx.iter() {
                // Around the spin's 20 µs, where the worker gives up and sleeps.
                let work = Duration::from_nanos(17_000 + u64::from(v % 32) * 250);
                let start = Instant::now();
                while start.elapsed() < work {
                    std::hint::spin_loop();
                }
                pong_tx.send(v).unwrap();
            }
        });
        let slowest = rt.handle().spawn_on(0, move || {
            let mut slowest = Duration::ZERO;
            for i in 0..5000 {
                let start = Instant::now();
                ping_tx.send(i).unwrap();
                // A lost wake-up is noticed only when the receive's own
                // timer wakes the worker: the round then takes 5 s.
                let v = pong_rx.recv_timeout(Duration::from_secs(5));
                assert_eq!(v, Ok(i));
                slowest = slowest.max(start.elapsed());
            }
            slowest
        });
        let slowest = slowest.join().unwrap();
        assert!(
            slowest < Duration::from_secs(2),
            "a reply's wake-up was lost: a round took {slowest:?}"
        );
        echo.join().unwrap();
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn plain_threads_block_and_tasks_park_on_one_channel() {
    watchdog(30, "threads_and_tasks", || {
        let rt = one_worker();
        let (to_task, from_thread) = channel::bounded::<u32>(0);
        let (to_thread, from_task) = channel::unbounded::<u32>();
        let task = rt.spawn(move || {
            let mut n = 0;
            while let Ok(v) = from_thread.recv() {
                to_thread.send(v * 2).unwrap();
                n += 1;
            }
            n
        });
        let thread = std::thread::spawn(move || {
            for i in 0..500 {
                to_task.send(i).unwrap();
            }
        });
        let doubled: Vec<u32> = from_task.iter().take(500).collect();
        thread.join().unwrap();
        assert_eq!(task.join().unwrap(), 500);
        assert_eq!(doubled, (0..500).map(|i| i * 2).collect::<Vec<_>>());
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn ten_thousand_tasks_through_one_channel_lose_no_wake_up() {
    watchdog(60, "ten_thousand", || {
        let rt = runtime(2, Backend::default());
        let (tx, rx) = channel::bounded::<u64>(16);
        let (done_tx, done_rx) = channel::unbounded::<u64>();
        // Receivers on both workers, senders on both: every hand-off kind.
        for w in 0..2 {
            let (rx, done_tx) = (rx.clone(), done_tx.clone());
            rt.handle().spawn_on(w, move || {
                for _ in 0..2 {
                    let rx = rx.clone();
                    let done_tx = done_tx.clone();
                    rt::spawn(move || done_tx.send(rx.iter().sum()).unwrap());
                }
            });
        }
        drop((rx, done_tx));
        let senders: Vec<_> = (0..10_000u64)
            .map(|i| {
                let tx = tx.clone();
                rt.handle().spawn(move || tx.send(i).unwrap())
            })
            .collect();
        drop(tx);
        for s in senders {
            s.join().unwrap();
        }
        let total: u64 = done_rx.iter().sum();
        assert_eq!(total, (0..10_000u64).sum::<u64>());
        rt.shutdown(Duration::from_secs(5));
    });
}

/// Senders and receivers parked when shutdown cancels them: every message
/// whose send returned `Ok` is received exactly once, by a task or from
/// the queue afterwards, and no message shows up twice.
#[test]
fn cancellation_while_parked_loses_and_duplicates_no_message() {
    watchdog(30, "cancel_counting", || {
        for cap in [0, 2] {
            let rt = runtime(2, Backend::default());
            let (tx, rx) = channel::bounded::<u32>(cap);
            let sent_ok = Arc::new(Mutex::new(Vec::new()));
            let received = Arc::new(Mutex::new(Vec::new()));
            for i in 0..60u32 {
                let (tx, sent_ok) = (tx.clone(), sent_ok.clone());
                rt.handle().spawn(move || {
                    if tx.send(i).is_ok() {
                        sent_ok.lock().unwrap().push(i);
                    }
                });
            }
            for _ in 0..4 {
                let (rx, received) = (rx.clone(), received.clone());
                rt.handle().spawn(move || {
                    for _ in 0..5 {
                        match rx.recv() {
                            Ok(v) => received.lock().unwrap().push(v),
                            Err(_) => return,
                        }
                        rt::yield_now();
                    }
                    // Then park until shutdown cancels it (or one more comes).
                    if let Ok(v) = rx.recv_timeout(Duration::from_secs(60)) {
                        received.lock().unwrap().push(v);
                    }
                });
            }
            std::thread::sleep(Duration::from_millis(50));
            let report = rt.shutdown(Duration::ZERO);
            assert!(report.cancelled > 0, "cap {cap}: some tasks were parked");
            drop(tx);
            let mut delivered = received.lock().unwrap().clone();
            delivered.extend(rx.try_iter());
            let sent = sent_ok.lock().unwrap().clone();
            assert_delivered_once(&delivered, &sent, &format!("cap {cap}"));
        }
    });
}

#[test]
fn waiting_in_a_coroutine_nested_in_a_task_panics_naming_the_nesting() {
    watchdog(30, "nested", || {
        let rt = one_worker();
        let (message, quick) = rt.block_on(|| {
            let (tx, rx) = channel::bounded::<u8>(1);
            let mut nested: Coroutine<(), (), _> = Coroutine::new(move |_, ()| {
                // What needs no waiting works there.
                tx.try_send(1).unwrap();
                let quick = rx.recv().unwrap();
                let waited = panic::catch_unwind(AssertUnwindSafe(|| rx.recv()));
                (waited.map(|_| ()).unwrap_err(), quick)
            });
            let (payload, quick) = nested.resume(()).as_return().expect("returns");
            (panic_text(payload.as_ref()), quick)
        });
        assert_eq!(quick, 1);
        assert!(message.contains("nested in a task"), "{message}");
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_task_that_cannot_park_gets_the_error_at_once() {
    watchdog(30, "refused", || {
        let rt = one_worker();
        let (tx, rx) = channel::bounded::<u8>(0);
        let got = Arc::new(Mutex::new(None));
        let g = got.clone();
        let task = rt.spawn(move || {
            struct OnUnwind(channel::Sender<u8>, Arc<Mutex<Option<String>>>);
            impl Drop for OnUnwind {
                fn drop(&mut self) {
                    let start = Instant::now();
                    let r = self.0.send_timeout(9, Duration::from_secs(5));
                    *self.1.lock().unwrap() = Some(format!("{r:?} in {:?}", start.elapsed()));
                }
            }
            let _guard = OnUnwind(tx, g);
            panic!("the task's own panic");
        });
        assert!(matches!(task.join(), Err(JoinError::Panicked(_))));
        let got = got.lock().unwrap().clone().expect("the destructor ran");
        assert!(got.starts_with("Err(Timeout(..))"), "{got}");
        drop(rx);
        rt.shutdown(Duration::from_secs(5));
    });
}

/// `examples/chan_roundtrip.rs`, the probe behind the channel bench's
/// instruction counts, runs its exchange on one worker and across two.
#[test]
fn the_round_trip_example_exchanges_on_one_worker_and_across_two() {
    watchdog(30, "chan_roundtrip", || {
        for (backend, workers) in [(Backend::Asm, 1), (Backend::Sjlj, 2)] {
            let took = chan_roundtrip::round_trip(1000, backend, workers).expect("a runtime");
            assert!(took > Duration::ZERO, "{backend}, {workers} worker(s)");
        }
    });
}

/// One handle waited on by several waiters at once (`Receiver` is `Sync`):
/// each waits with an entry of its own (the handle keeps one, for one of
/// them), each gets one message, and a sharer that gives up leaves no
/// ghost that would swallow the next message.
#[test]
fn waiters_sharing_one_handle_each_get_a_message_and_leave_no_ghost() {
    watchdog(30, "shared_handle", || {
        let rt = one_worker();
        let (tx, rx) = channel::bounded::<u32>(0);
        let rx = Arc::new(rx);
        // Two tasks and a thread park on the same handle at once.
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let rx = rx.clone();
                rt.spawn(move || rx.recv().unwrap())
            })
            .collect();
        let thread = {
            let rx = rx.clone();
            std::thread::spawn(move || rx.recv().unwrap())
        };
        // A fourth sharer that times out while the others still wait.
        let quitter = {
            let rx = rx.clone();
            rt.spawn(move || rx.recv_timeout(Duration::from_millis(20)))
        };
        assert_eq!(quitter.join().unwrap(), Err(RecvTimeoutError::Timeout));
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        let mut got: Vec<u32> = tasks.into_iter().map(|t| t.join().unwrap()).collect();
        got.push(thread.join().unwrap());
        got.sort_unstable();
        assert_eq!(
            got,
            [0, 1, 2],
            "each waiter one message, none to the quitter"
        );
        // Nobody waits now: a rendezvous send finds no receiver.
        assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)));
        rt.shutdown(Duration::from_secs(5));
    });
}

/// Deadlines racing hand-overs across threads, on both sides: a receiver
/// that times out over and over while a thread sends, then a sender that
/// times out over and over (sending its value again) while a thread
/// receives. A wait the deadline ends must not have been completed, and
/// one that was completed must report it: every message arrives exactly
/// once, in order.
#[test]
fn deadlines_racing_hand_overs_lose_and_duplicate_nothing() {
    const N: u32 = 20_000;
    watchdog(60, "deadline_races", || {
        let timeout = Duration::from_micros(2);
        let (tx, rx) = channel::bounded::<u32>(0);
        let sender = std::thread::spawn(move || {
            for i in 0..N {
                dawdle(i);
                tx.send(i).unwrap();
            }
        });
        let (mut got, mut timeouts) = (Vec::with_capacity(N as usize), 0u32);
        while got.len() < N as usize {
            match rx.recv_timeout(timeout) {
                Ok(v) => got.push(v),
                Err(RecvTimeoutError::Timeout) => timeouts += 1,
                Err(e) => panic!("receive: {e:?}"),
            }
        }
        sender.join().unwrap();
        assert!(
            got.iter().copied().eq(0..N),
            "receiver side: in order, once each"
        );

        let (tx, rx) = channel::bounded::<u32>(0);
        let receiver = std::thread::spawn(move || {
            let mut got = Vec::with_capacity(N as usize);
            while let Ok(v) = rx.recv() {
                got.push(v);
                dawdle(v);
            }
            got
        });
        let mut sent_timeouts = 0u32;
        for i in 0..N {
            let mut value = i;
            loop {
                match tx.send_timeout(value, timeout) {
                    Ok(()) => break,
                    Err(SendTimeoutError::Timeout(v)) => {
                        sent_timeouts += 1;
                        value = v;
                    }
                    Err(e) => panic!("send: {e:?}"),
                }
            }
        }
        drop(tx);
        let got = receiver.join().unwrap();
        assert!(
            got.iter().copied().eq(0..N),
            "sender side: in order, once each"
        );
        // Not an assertion of speed: the races are what the test is for,
        // so say how many there were.
        eprintln!("timeouts: {timeouts} receiving, {sent_timeouts} sending");
    });
}

/// Spins 0 to 6 µs, by `i`: the counterpart of a waiter with a 2 µs
/// deadline comes sometimes before it, sometimes after, sometimes at once.
fn dawdle(i: u32) {
    let until = Instant::now() + Duration::from_nanos(u64::from(i % 7) * 1000);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// The same races between tasks of two workers, through task deadlines
/// (`recv_timeout` parks with a timer): nothing lost or duplicated.
#[test]
fn task_deadlines_racing_hand_overs_across_workers_lose_nothing() {
    const N: u32 = 5_000;
    watchdog(60, "task_deadline_races", || {
        let rt = runtime(2, Backend::default());
        let (tx, rx) = channel::bounded::<u32>(0);
        rt.handle().spawn_on(1, move || {
            for i in 0..N {
                dawdle(i);
                tx.send(i).unwrap();
            }
        });
        let got = rt
            .handle()
            .spawn_on(0, move || {
                let mut got = Vec::with_capacity(N as usize);
                while got.len() < N as usize {
                    match rx.recv_timeout(Duration::from_micros(2)) {
                        Ok(v) => got.push(v),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(e) => panic!("receive: {e:?}"),
                    }
                }
                got
            })
            .join()
            .unwrap();
        assert!(got.iter().copied().eq(0..N), "in order, once each");
        rt.shutdown(Duration::from_secs(5));
    });
}

/// Counts its drops.
struct DropCount(Arc<std::sync::atomic::AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A send cancelled while it waits drops its message then, never sent,
/// even when the sending handle outlives the task (it keeps its wait entry
/// for its next wait, which must not hold the message meanwhile).
#[test]
fn a_cancelled_send_drops_its_message_when_it_is_cancelled() {
    watchdog(30, "cancelled_send_drops", || {
        let rt = one_worker();
        let drops = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, rx) = channel::bounded::<DropCount>(0);
        let tx = Arc::new(tx);
        let (parked_tx, parked_rx) = std::sync::mpsc::channel();
        let sender = {
            let (tx, drops) = (tx.clone(), drops.clone());
            rt.spawn(move || {
                parked_tx.send(()).unwrap();
                // Nobody receives: it parks until aborted.
                let _ = tx.send(DropCount(drops));
            })
        };
        parked_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20)); // let it park
        sender.abort();
        assert!(matches!(sender.join(), Err(JoinError::Cancelled)));
        assert_eq!(
            drops.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "dropped by the cancellation, while the handle still lives"
        );
        assert!(
            matches!(rx.try_recv(), Err(TryRecvError::Empty)),
            "never sent"
        );
        drop(tx);
        rt.shutdown(Duration::from_secs(5));
    });
}
