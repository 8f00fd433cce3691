//! `jmpco::rt::channel::Select`: exactly one operation completes and the
//! others consume nothing, with receives, sends, fd readiness and a
//! deadline, from tasks and threads, under contention and cancellation.
//! Every test is bounded by a watchdog.

mod rt_support;

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jmpco::rt::channel::{self, Select};
use jmpco::rt::{self, Interest, Runtime, UnixStream};
use rt_support::{assert_delivered_once, one_worker, watchdog};

#[derive(Debug, PartialEq, Eq)]
enum Got {
    A(u32),
    B(u32),
    Sent,
    Fd,
    Late,
    Closed,
}

#[test]
fn of_two_ready_receives_the_first_wins_and_the_other_keeps_its_message() {
    let (ta, ra) = channel::bounded(1);
    let (tb, rb) = channel::bounded(1);
    ta.send(1).unwrap();
    tb.send(2).unwrap();
    let got = Select::new()
        .recv(&ra, |r| Got::A(r.unwrap()))
        .recv(&rb, |r| Got::B(r.unwrap()))
        .wait()
        .unwrap();
    assert_eq!(got, Got::A(1));
    assert_eq!(rb.try_recv(), Ok(2), "the losing channel kept its message");
}

#[test]
fn a_waiting_select_takes_whichever_channel_gets_a_message_first() {
    watchdog(30, "first_message", || {
        let rt = one_worker();
        let (got, left) = rt.block_on(|| {
            let (ta, ra) = channel::bounded::<u32>(1);
            let (tb, rb) = channel::bounded::<u32>(1);
            let sender = rt::spawn(move || {
                rt::sleep(Duration::from_millis(20));
                tb.send(5).unwrap();
                rt::sleep(Duration::from_millis(20));
                ta.send(6).unwrap();
            });
            let got = Select::new()
                .recv(&ra, |r| Got::A(r.unwrap()))
                .recv(&rb, |r| Got::B(r.unwrap()))
                .wait()
                .unwrap();
            sender.join().unwrap();
            (got, ra.try_recv().ok())
        });
        assert_eq!(got, Got::B(5));
        assert_eq!(left, Some(6), "the other receive consumed nothing");
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_send_and_a_receive_in_one_select_complete_only_one() {
    watchdog(30, "send_and_recv", || {
        let rt = one_worker();
        rt.block_on(|| {
            let (full_tx, full_rx) = channel::bounded::<u32>(1);
            full_tx.send(0).unwrap();
            let (_empty_tx, empty_rx) = channel::bounded::<u32>(1);
            let drainer = rt::spawn(move || {
                rt::sleep(Duration::from_millis(20));
                let first = full_rx.recv().unwrap();
                let second = full_rx.recv().unwrap();
                (first, second)
            });
            let got = Select::new()
                .send(&full_tx, 9, |r| {
                    r.unwrap();
                    Got::Sent
                })
                .recv(&empty_rx, |r| Got::A(r.unwrap()))
                .wait()
                .unwrap();
            assert_eq!(got, Got::Sent);
            assert_eq!(drainer.join().unwrap(), (0, 9));
        });
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn the_deadline_fires_when_nothing_comes_and_duration_max_never_does() {
    watchdog(30, "deadline", || {
        let rt = one_worker();
        rt.block_on(|| {
            let (tx, rx) = channel::bounded::<u32>(1);
            let start = Instant::now();
            let got = Select::new()
                .recv(&rx, |r| Got::A(r.unwrap()))
                .timeout(Duration::from_millis(30), || Got::Late)
                .wait()
                .unwrap();
            assert_eq!(got, Got::Late);
            assert!(start.elapsed() >= Duration::from_millis(30));
            let late = rt::spawn(move || {
                rt::sleep(Duration::from_millis(20));
                tx.send(4).unwrap();
            });
            let got = Select::new()
                .recv(&rx, |r| Got::A(r.unwrap()))
                .timeout(Duration::MAX, || Got::Late)
                .wait()
                .unwrap();
            assert_eq!(got, Got::A(4));
            late.join().unwrap();
        });
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn fd_readiness_wins_a_select_and_the_channel_keeps_its_message() {
    watchdog(30, "fd_ready", || {
        let rt = one_worker();
        rt.block_on(|| {
            let (a, b) = UnixStream::pair().unwrap();
            let (tx, rx) = channel::bounded::<u32>(1);
            let writer = rt::spawn(move || {
                rt::sleep(Duration::from_millis(20));
                (&b).write_all(b"x").unwrap();
                rt::sleep(Duration::from_millis(20));
                tx.send(1).unwrap();
                b
            });
            let got = Select::new()
                .ready(&a, Interest::READABLE, || Got::Fd)
                .recv(&rx, |r| Got::A(r.unwrap()))
                .wait()
                .unwrap();
            assert_eq!(got, Got::Fd);
            let _b = writer.join().unwrap();
            assert_eq!(rx.recv(), Ok(1));
            // Ready now (the byte is still unread): level-triggered.
            let again = Select::new()
                .ready(&a, Interest::READABLE, || Got::Fd)
                .wait()
                .unwrap();
            assert_eq!(again, Got::Fd);
        });
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_plain_thread_selects_over_channels_fed_by_tasks() {
    watchdog(30, "thread_select", || {
        let rt = one_worker();
        let (ta, ra) = channel::bounded::<u32>(0);
        let (tb, rb) = channel::bounded::<u32>(0);
        let feeder = rt.spawn(move || {
            for i in 0..100 {
                if i % 2 == 0 {
                    ta.send(i).unwrap()
                } else {
                    tb.send(i).unwrap()
                }
            }
        });
        let mut got = Vec::new();
        while got.len() < 100 {
            let v = Select::new()
                .recv(&ra, |r| r.ok())
                .recv(&rb, |r| r.ok())
                .wait()
                .unwrap();
            got.extend(v);
        }
        feeder.join().unwrap();
        assert_eq!(
            got,
            (0..100).collect::<Vec<_>>(),
            "rendezvous keeps the order"
        );
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn a_receive_on_a_disconnected_channel_completes_with_an_error() {
    let (tx, rx) = channel::bounded::<u32>(1);
    drop(tx);
    let got = Select::new()
        .recv(&rx, |r| if r.is_err() { Got::Closed } else { Got::A(0) })
        .wait()
        .unwrap();
    assert_eq!(got, Got::Closed);
}

/// Many selecting receivers on two workers race for messages from two
/// channels: every message is received exactly once.
#[test]
fn racing_selects_neither_lose_nor_duplicate_a_message() {
    watchdog(60, "racing", || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        let (ta, ra) = channel::bounded::<u32>(4);
        let (tb, rb) = channel::bounded::<u32>(0);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let receivers: Vec<_> = (0..20)
            .map(|_| {
                let (ra, rb, seen) = (ra.clone(), rb.clone(), seen.clone());
                rt.spawn(move || loop {
                    let got = Select::new()
                        .recv(&ra, |r| r.ok())
                        .recv(&rb, |r| r.ok())
                        .timeout(Duration::from_millis(200), || None)
                        .wait()
                        .unwrap();
                    match got {
                        Some(v) => seen.lock().unwrap().push(v),
                        None => return,
                    }
                })
            })
            .collect();
        let senders: Vec<_> = (0..4u32)
            .map(|s| {
                let (ta, tb) = (ta.clone(), tb.clone());
                rt.spawn(move || {
                    for i in 0..500 {
                        let v = s * 1000 + i;
                        if i % 2 == 0 {
                            ta.send(v).unwrap()
                        } else {
                            tb.send(v).unwrap()
                        }
                    }
                })
            })
            .collect();
        drop((ta, tb, ra, rb));
        senders.into_iter().for_each(|s| s.join().unwrap());
        receivers.into_iter().for_each(|r| r.join().unwrap());
        let seen = seen.lock().unwrap();
        let unique: HashSet<u32> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "no duplicate");
        assert_eq!(seen.len(), 2000, "none lost");
        rt.shutdown(Duration::from_secs(5));
    });
}

/// Selects parked when shutdown cancels them: a message handed to one in
/// that instant goes back, so every sent message is still found.
#[test]
fn a_cancelled_select_gives_back_a_message_it_was_handed() {
    watchdog(30, "cancel_select", || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        let (tx, rx) = channel::bounded::<u32>(0);
        let (_other_tx, other_rx) = channel::bounded::<u32>(0);
        let received = Arc::new(Mutex::new(Vec::new()));
        for _ in 0..6 {
            let (rx, other_rx, received) = (rx.clone(), other_rx.clone(), received.clone());
            rt.spawn(move || loop {
                let got = Select::new()
                    .recv(&rx, |r| r.ok())
                    .recv(&other_rx, |r| r.ok())
                    .wait();
                match got {
                    Ok(Some(v)) => received.lock().unwrap().push(v),
                    _ => return,
                }
            });
        }
        let sent_ok = Arc::new(Mutex::new(Vec::new()));
        for i in 0..40u32 {
            let (tx, sent_ok) = (tx.clone(), sent_ok.clone());
            rt.spawn(move || {
                if tx.send(i).is_ok() {
                    sent_ok.lock().unwrap().push(i);
                }
            });
        }
        std::thread::sleep(Duration::from_millis(30));
        rt.shutdown(Duration::ZERO);
        drop(tx);
        let mut delivered = received.lock().unwrap().clone();
        delivered.extend(rx.try_iter());
        let sent = sent_ok.lock().unwrap().clone();
        assert_delivered_once(&delivered, &sent, "cancelled selects");
    });
}

/// A thread's select with fd readiness is refused before it registers
/// anything, so no channel entry is left behind to swallow a message.
#[test]
fn a_threads_select_with_fd_readiness_panics_and_leaves_nothing_behind() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let (tx, rx) = channel::bounded::<u32>(0);
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Select::new()
            .recv(&rx, |r| r.ok())
            .ready(&a, Interest::READABLE, || None)
            .wait()
    }));
    assert!(refused.is_err());
    assert!(
        tx.try_send(1).is_err(),
        "no receiver is registered any more"
    );
}
