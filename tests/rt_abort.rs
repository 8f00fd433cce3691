//! `JoinHandle::abort`: a task aborted at each kind of park point unwinds
//! there (its destructors run, its sockets close) and joins as
//! `Cancelled`; a running task at its next park; from another worker, a
//! plain thread, itself; a finished task is left alone; and a message in
//! flight at the instant of an abort is neither lost nor duplicated.
//! Every test is bounded by a watchdog.

mod rt_support;

use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use jmpco::rt::channel::{self, Select};
use jmpco::rt::sync::Mutex;
use jmpco::rt::{self, AbortHandle, Interest, JoinError, Runtime, TcpListener, UnixStream};
use rt_support::{each_backend, watchdog};

/// Counts its drops: the task's destructors ran.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Spawns `park` in a task that holds a `Dropped`, waits until it is
/// parked, aborts it, and checks the outcome.
fn aborted_while(rt: &Runtime, what: &str, park: impl FnOnce() + Send + 'static) {
    let drops = Arc::new(AtomicUsize::new(0));
    let (parked_tx, parked_rx) = mpsc::channel();
    let after = Arc::new(AtomicBool::new(false));
    let handle = {
        let (drops, after) = (drops.clone(), after.clone());
        rt.spawn(move || {
            let _guard = Dropped(drops);
            parked_tx.send(()).unwrap();
            park();
            after.store(true, Ordering::SeqCst);
        })
    };
    parked_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    handle.abort();
    let joined = handle.join();
    assert!(
        matches!(joined, Err(JoinError::Cancelled)),
        "{what}: {joined:?}"
    );
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "{what}: the destructors ran"
    );
    assert!(
        !after.load(Ordering::SeqCst),
        "{what}: it never ran past the park"
    );
}

#[test]
fn a_task_aborted_at_every_kind_of_park_unwinds_there() {
    watchdog(60, "abort_points", || {
        each_backend(|rt| {
            aborted_while(&rt, "sleep", || rt::sleep(Duration::from_secs(60)));
            let (peer_tx, peer_rx) = mpsc::channel();
            aborted_while(&rt, "read", move || {
                let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
                peer_tx.send(b).unwrap();
                let a = UnixStream::from_std(a).unwrap();
                let mut buf = [0u8; 8];
                let _ = (&a).read(&mut buf);
            });
            // The aborted reader's socket closed with it: its peer sees EOF.
            let mut peer = peer_rx.recv().unwrap();
            let mut buf = [0u8; 8];
            assert_eq!(peer.read(&mut buf).unwrap(), 0, "the socket was closed");
            aborted_while(&rt, "accept", || {
                let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
                let _ = listener.accept();
            });
            aborted_while(&rt, "wait_fd", || {
                let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
                let fd = std::os::fd::AsRawFd::as_raw_fd(&a);
                let _ = rt::wait_fd(fd, Interest::READABLE, None);
            });
            aborted_while(&rt, "recv", || {
                let (_tx, rx) = channel::bounded::<u8>(1);
                let _ = rx.recv();
            });
            aborted_while(&rt, "send", || {
                let (tx, _rx) = channel::bounded::<u8>(0);
                let _ = tx.send(1);
            });
            let lock = Arc::new(Mutex::new(()));
            let held = lock.clone();
            let holder = rt.spawn(move || {
                let _g = held.lock().unwrap();
                rt::sleep(Duration::from_millis(300));
            });
            std::thread::sleep(Duration::from_millis(20));
            let contended = lock.clone();
            aborted_while(&rt, "lock", move || drop(contended.lock()));
            holder.join().unwrap();
            assert!(!lock.is_poisoned());
            assert!(lock.try_lock().is_ok(), "the aborted waiter left no ghost");
            aborted_while(&rt, "select", || {
                let (_tx, rx) = channel::bounded::<u8>(1);
                let _ = Select::new().recv(&rx, |_| ()).wait();
            });
            aborted_while(&rt, "join", || {
                let forever = rt::spawn(|| rt::sleep(Duration::from_secs(60)));
                let _ = forever.join();
            });
            let job_done = Arc::new(AtomicBool::new(false));
            let done = job_done.clone();
            aborted_while(&rt, "unblock", move || {
                rt::unblock(move || {
                    std::thread::sleep(Duration::from_millis(200));
                    done.store(true, Ordering::SeqCst);
                })
            });
            std::thread::sleep(Duration::from_millis(400));
            assert!(
                job_done.load(Ordering::SeqCst),
                "the blocking job ran to its end"
            );
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn a_running_task_that_aborts_itself_ends_at_its_next_park() {
    watchdog(30, "self_abort", || {
        each_backend(|rt| {
            let (handle_tx, handle_rx) = mpsc::channel::<AbortHandle>();
            let ran_on = Arc::new(AtomicBool::new(false));
            let after_park = Arc::new(AtomicBool::new(false));
            let handle = {
                let (ran_on, after_park) = (ran_on.clone(), after_park.clone());
                rt.spawn(move || {
                    let me = handle_rx.recv().unwrap();
                    me.abort();
                    // Still running: the abort waits for the next park.
                    ran_on.store(true, Ordering::SeqCst);
                    rt::yield_now();
                    after_park.store(true, Ordering::SeqCst);
                })
            };
            handle_tx.send(handle.abort_handle()).unwrap();
            assert!(matches!(handle.join(), Err(JoinError::Cancelled)));
            assert!(ran_on.load(Ordering::SeqCst));
            assert!(!after_park.load(Ordering::SeqCst));
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

#[test]
fn aborts_reach_a_task_from_another_worker_and_from_a_plain_thread() {
    watchdog(30, "abort_remote", || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        let victim = rt
            .handle()
            .spawn_on(1, || rt::sleep(Duration::from_secs(60)));
        let aborter = victim.abort_handle();
        rt.handle()
            .spawn_on(0, move || aborter.abort())
            .join()
            .unwrap();
        assert!(matches!(victim.join(), Err(JoinError::Cancelled)));
        let victim = rt
            .handle()
            .spawn_on(0, || rt::sleep(Duration::from_secs(60)));
        let aborter = victim.abort_handle();
        std::thread::spawn(move || aborter.abort()).join().unwrap();
        assert!(matches!(victim.join(), Err(JoinError::Cancelled)));
        // Aborted before its spawn message even reached the worker.
        let early = rt.spawn(|| rt::sleep(Duration::from_secs(60)));
        early.abort();
        assert!(matches!(early.join(), Err(JoinError::Cancelled)));
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn aborting_a_finished_task_or_blocking_work_does_nothing() {
    watchdog(30, "abort_noop", || {
        each_backend(|rt| {
            let done = rt.spawn(|| 7);
            while !done.is_finished() {
                std::thread::sleep(Duration::from_millis(1));
            }
            done.abort();
            assert_eq!(done.join().ok(), Some(7));
            let job = rt::spawn_blocking(|| {
                std::thread::sleep(Duration::from_millis(20));
                8
            });
            job.abort();
            assert_eq!(job.join().ok(), Some(8));
            rt.shutdown(Duration::from_secs(5));
        });
    });
}

/// A receiver is aborted while a sender hands it a message: the message is
/// received or still queued, never both and never neither.
#[test]
fn a_message_in_flight_at_an_abort_is_neither_lost_nor_duplicated() {
    watchdog(60, "abort_in_flight", || {
        let rt = Runtime::builder().worker_threads(2).build().unwrap();
        for round in 0..100u32 {
            let (tx, rx) = channel::bounded::<u32>(0);
            let got = Arc::new(AtomicUsize::new(0));
            let receiver = {
                let (rx, got) = (rx.clone(), got.clone());
                rt.handle().spawn_on(1, move || {
                    if rx.recv().is_ok() {
                        got.fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            std::thread::sleep(Duration::from_micros(200));
            let sender = rt.handle().spawn_on(0, move || {
                tx.send_timeout(round, Duration::from_millis(20)).is_ok()
            });
            receiver.abort();
            let sent = sender.join().unwrap();
            let _ = receiver.join();
            let queued = rx.try_iter().count();
            let received = got.load(Ordering::SeqCst);
            if sent {
                assert_eq!(
                    received + queued,
                    1,
                    "round {round}: received {received}, queued {queued}"
                );
            } else {
                assert_eq!(received + queued, 0, "round {round}: unsent yet found");
            }
        }
        rt.shutdown(Duration::from_secs(5));
    });
}
