//! Cancellation and unwinding at the runtime's edges: tasks that park while
//! they unwind, coroutines nested in tasks, Rust tasks inside the C tier's
//! waits, stale waits on reused fd numbers, abandoned C tasks. Each test
//! names the outcome it pins. Loopback only; every test is bounded.

mod rt_support;
mod support;

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jmpco::ffi::{
    jmpco_chan, jmpco_chan_close, jmpco_chan_free, jmpco_chan_make, jmpco_chan_recv,
    jmpco_chan_send, jmpco_current, jmpco_join, jmpco_sleep_ms, jmpco_spawn, jmpco_spawn_task,
    jmpco_task, jmpco_task_release, jmpco_wait_fd, jmpco_yield, JMPCO_EBUSY, JMPCO_ECANCELED,
    JMPCO_ECLOSED, JMPCO_ENOTCORO, JMPCO_ETIMEDOUT, JMPCO_OK, JMPCO_READABLE,
};
use jmpco::rt::{self, Interest, JoinError, UnixStream};
use jmpco::{Coroutine, CoroutineResult};
use rt_support::{one_worker, open_fds, panic_text, watchdog};
use support::child;

/// Issue: task A panicked, a destructor on its stack parked, and while A
/// was parked the worker's other tasks saw `std::thread::panicking()`, so
/// an innocent task's `MutexGuard` poisoned its mutex. Now the park is
/// refused at once: A's unwind finishes before any other task runs.
#[test]
fn a_task_that_parks_while_unwinding_leaks_no_panic_state_to_other_tasks() {
    watchdog(30, "parks_while_unwinding", || {
        let rt = one_worker();
        let mutex = Arc::new(Mutex::new(0u32));
        let saw_panicking = Arc::new(AtomicBool::new(false));
        let (m, saw) = (mutex.clone(), saw_panicking.clone());
        let innocent = rt.spawn(move || {
            for _ in 0..200 {
                let mut guard = m.lock().unwrap();
                *guard += 1;
                rt::yield_now();
                saw.fetch_or(std::thread::panicking(), Ordering::Relaxed);
                drop(guard);
                rt::sleep(Duration::from_millis(1));
            }
        });
        struct ParksOnDrop(Arc<AtomicUsize>);
        impl Drop for ParksOnDrop {
            fn drop(&mut self) {
                let start = Instant::now();
                rt::sleep(Duration::from_millis(200));
                self.0
                    .store(start.elapsed().as_millis() as usize, Ordering::Relaxed);
            }
        }
        let slept_ms = Arc::new(AtomicUsize::new(usize::MAX));
        let s = slept_ms.clone();
        let panicker = rt.spawn(move || {
            rt::sleep(Duration::from_millis(5));
            let _guard = ParksOnDrop(s);
            panic!("task A's own panic");
        });
        assert!(panicker.join().unwrap_err().is_panic());
        innocent.join().expect("the innocent task ends normally");
        assert!(
            slept_ms.load(Ordering::Relaxed) < 200,
            "the park during the unwind returned at once"
        );
        assert!(
            !saw_panicking.load(Ordering::Relaxed),
            "another task saw A's unwind"
        );
        assert!(
            !mutex.is_poisoned(),
            "an innocent task's mutex was poisoned"
        );
        assert_eq!(*mutex.lock().unwrap(), 200);
        assert_eq!(rt.shutdown(Duration::from_secs(5)).cancelled, 0);
    });
}

/// Issue: a task read a runtime stream (a short read cleared the readiness
/// bit), then read the same stream from a coroutine it created: every retry
/// skipped the read because of the stale bit, and `poll` returned at once.
#[test]
fn a_coroutine_nested_in_a_task_reads_a_runtime_stream_without_spinning() {
    watchdog(30, "nested_read", || {
        let rt = one_worker();
        let (nested, after) = rt.block_on(|| {
            let (a, b) = UnixStream::pair().unwrap();
            let b = Rc::new(b);
            let early = b.clone();
            let writer = rt::spawn(move || {
                rt::sleep(Duration::from_millis(10));
                (&*early).write_all(b"ab").unwrap();
            });
            // The first read parks (and registers the fd), the second edge
            // wakes it, and its short read clears the readiness bit.
            let mut buf = [0u8; 8];
            assert_eq!((&a).read(&mut buf).unwrap(), 2, "a short read");
            writer.join().unwrap();
            // More data arrives while the task runs: its edge is still in the
            // kernel, and the readiness bit the short read cleared is stale.
            (&*b).write_all(b"cdef").unwrap();
            let a = Rc::new(a);
            let reader = a.clone();
            let mut parser: Coroutine<(), (), Vec<u8>> = Coroutine::new(move |_, ()| {
                let mut two = [0u8; 2];
                (&*reader).read_exact(&mut two).expect("the nested read");
                two.to_vec()
            });
            let nested = parser.resume(()).as_return().expect("the parser returns");
            // The nested read left data behind: the task reads it at once.
            let mut rest = [0u8; 2];
            (&*a)
                .read_exact(&mut rest)
                .expect("the task's read after it");
            drop(b);
            (nested, rest.to_vec())
        });
        assert_eq!(nested, b"cd");
        assert_eq!(after, b"ef");
        rt.shutdown(Duration::from_secs(5));
    });
}

/// Issue: `rt::spawn` from a coroutine nested in a task panicked "called
/// outside a runtime task", and `join` there deadlocked the worker.
#[test]
fn spawn_works_and_join_fails_at_once_in_a_coroutine_nested_in_a_task() {
    watchdog(30, "nested_spawn_join", || {
        let rt = one_worker();
        let (message, late, finished, blocking) = rt.block_on(|| {
            let mut nested: Coroutine<(), (), _> = Coroutine::new(|_, ()| {
                let handle = rt::spawn(|| 5);
                let joined = panic::catch_unwind(AssertUnwindSafe(|| handle.join()));
                joined.map(|_| ()).unwrap_err()
            });
            let payload = nested.resume(()).as_return().expect("returns");
            let message = panic_text(payload.as_ref());
            // A finished task can be joined from there; so can pool work.
            let done = rt::spawn(|| 6);
            rt::sleep(Duration::from_millis(20));
            let mut joiner: Coroutine<(), (), _> = Coroutine::new(move |_, ()| {
                let finished = done.join().ok();
                let blocking = rt::spawn_blocking(|| 7).join().ok();
                (finished, blocking)
            });
            let (finished, blocking) = joiner.resume(()).as_return().expect("returns");
            // The task the nested coroutine spawned runs, and the task itself
            // can join it.
            let late = rt::spawn(|| 8).join().ok();
            (message, late, finished, blocking)
        });
        assert!(message.contains("nested in a task"), "{message}");
        assert_eq!((late, finished, blocking), (Some(8), Some(6), Some(7)));
        rt.shutdown(Duration::from_secs(5));
    });
}

/// Issue: a Rust task inside `jmpco_sleep_ms` (C code called from a Rust
/// task) aborted the process at `shutdown(Duration::ZERO)`: its
/// cancellation unwound into the export's panic guard. Now the wait
/// returns `JMPCO_ECANCELED`, so do later waits, and the task's own frames
/// end normally.
#[test]
fn a_rust_task_in_the_c_tiers_waits_is_cancelled_with_ecanceled() {
    watchdog(30, "c_tier_cancel", || {
        let rt = one_worker();
        let codes = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        for which in ["sleep", "wait_fd"] {
            let (codes, ended, started) = (codes.clone(), ended.clone(), started_tx.clone());
            rt.spawn(move || {
                struct Ends(Arc<AtomicBool>);
                impl Drop for Ends {
                    fn drop(&mut self) {
                        self.0.store(true, Ordering::Relaxed);
                    }
                }
                let _ends = Ends(ended);
                let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
                started.send(()).unwrap();
                let first = match which {
                    "sleep" => jmpco_sleep_ms(60_000),
                    _ => jmpco_wait_fd(a.as_raw_fd(), JMPCO_READABLE, -1),
                };
                let again = jmpco_sleep_ms(60_000);
                let started_at = Instant::now();
                rt::sleep(Duration::from_secs(60));
                codes.lock().unwrap().push((
                    which,
                    first,
                    again,
                    started_at.elapsed() < Duration::from_secs(5),
                ));
            });
        }
        for _ in 0..2 {
            started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        let report = rt.shutdown(Duration::ZERO);
        assert_eq!(report.cancelled, 2);
        let mut codes = codes.lock().unwrap().clone();
        codes.sort();
        assert_eq!(
            codes,
            [
                ("sleep", JMPCO_ECANCELED, JMPCO_ECANCELED, true),
                ("wait_fd", JMPCO_ECANCELED, JMPCO_ECANCELED, true),
            ]
        );
        assert!(
            ended.load(Ordering::Relaxed),
            "the tasks' locals were dropped"
        );
    });
}

/// One of the C tier's waits, as a Rust task calls it.
type CWait = Box<dyn Fn() -> c_int>;

/// Issue: an `rt::timeout` whose deadline passed while C code it called
/// waited in the C tier unwound into the C frames, and the export's guard
/// aborted the process. Now the unwind stops at the export, the wait
/// returns `JMPCO_ETIMEDOUT` (sleep, fd and channel waits alike), and the frame
/// stays armed: the next park, in Rust, fires it, and the frame returns
/// `Elapsed`. A closure that returns without parking again gets its value,
/// and a real panic afterwards poisons a lock as it should (no leftover
/// unwind state).
#[test]
fn a_deadline_passing_in_the_c_tiers_waits_returns_etimedout_and_fires_again_in_rust() {
    watchdog(30, "c_tier_deadline", || {
        let rt = one_worker();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let chan = CChan::make(1);
        let results = rt.block_on(move || {
            let waits: [(&str, CWait); 3] = [
                ("sleep", Box::new(|| jmpco_sleep_ms(60_000))),
                (
                    "wait_fd",
                    Box::new(move || jmpco_wait_fd(fd, JMPCO_READABLE, -1)),
                ),
                (
                    "chan_recv",
                    Box::new(move || chan.recv(-1).err().unwrap_or(JMPCO_OK)),
                ),
            ];
            let mut results = Vec::new();
            for (which, wait) in &waits {
                let start = Instant::now();
                let code = Cell::new(JMPCO_OK);
                // Parks again in Rust after the C wait: the frame fires there.
                let fired = rt::timeout(Duration::from_millis(20), || {
                    code.set(wait());
                    rt::sleep(Duration::from_secs(60));
                });
                // Returns right after the C wait: the closure's value comes back.
                let returned = rt::timeout(Duration::from_millis(20), wait);
                // A real panic through a guard poisons (it would not if the
                // task still counted as unwinding for a deadline).
                let lock = rt::sync::Mutex::new(());
                let _ = panic::catch_unwind(AssertUnwindSafe(|| {
                    let _guard = lock.lock().unwrap();
                    panic!("a real panic");
                }));
                let poisoned = lock.is_poisoned();
                results.push((
                    *which,
                    code.get(),
                    fired,
                    returned,
                    poisoned,
                    start.elapsed() < Duration::from_secs(5),
                ));
            }
            results
        });
        for (which, code, fired, returned, poisoned, quick) in results {
            assert_eq!(code, JMPCO_ETIMEDOUT, "{which}: the C wait's code");
            assert_eq!(fired, Err(rt::Elapsed), "{which}: the frame fired in Rust");
            assert_eq!(
                returned,
                Ok(JMPCO_ETIMEDOUT),
                "{which}: a closure that returns"
            );
            assert!(poisoned, "{which}: no leftover deadline unwind state");
            assert!(quick, "{which}: no wait ran to its own limit");
        }
        assert_eq!(chan.free(), JMPCO_OK);
    });
}

/// Whether some epoll instance of this process watches `fd`
/// (`/proc/self/fdinfo` lists an epoll fd's watched fds as `tfd:` lines).
fn an_epoll_watches(fd: c_int) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return false;
    };
    dir.flatten().any(|entry| {
        let is_epoll = std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy() == "anon_inode:[eventpoll]");
        let info = std::path::Path::new("/proc/self/fdinfo").join(entry.file_name());
        is_epoll
            && std::fs::read_to_string(info).is_ok_and(|text| {
                text.lines().any(|line| {
                    let mut words = line.split_whitespace();
                    words.next() == Some("tfd:") && words.next() == Some(&fd.to_string())
                })
            })
    })
}

/// Issue: a Rust task whose `jmpco_wait_fd` was ended by an unwind (its
/// `rt::timeout` deadline, or an abort) got `JMPCO_ETIMEDOUT` /
/// `JMPCO_ECANCELED`, but the wait skipped its release of the fd's
/// registration on the way out, so the fd stayed in the worker's epoll
/// (and counted as in use there) after the call, against the header's "it
/// is registered with the thread's epoll only during the call". Now the
/// registration is released on both paths, as after a wait that returns.
#[test]
fn jmpco_wait_fd_ended_by_an_unwind_leaves_the_fd_unregistered() {
    watchdog(30, "c_wait_fd_release", || {
        let rt = one_worker();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let (code, watched_after) = rt.block_on(move || {
            let code = rt::timeout(Duration::from_millis(20), || {
                jmpco_wait_fd(fd, JMPCO_READABLE, -1)
            });
            (code, an_epoll_watches(fd))
        });
        assert_eq!(
            code,
            Ok(JMPCO_ETIMEDOUT),
            "the deadline stopped at the export"
        );
        assert!(
            !watched_after,
            "the deadline's wait left fd {fd} in the epoll"
        );

        let (parked_tx, parked_rx) = std::sync::mpsc::channel();
        let waiter = rt.spawn(move || {
            parked_tx.send(()).unwrap();
            jmpco_wait_fd(fd, JMPCO_READABLE, -1)
        });
        parked_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert!(an_epoll_watches(fd), "registered while it waits");
        waiter.abort();
        assert_eq!(waiter.join().ok(), Some(JMPCO_ECANCELED));
        assert!(
            !an_epoll_watches(fd),
            "the aborted wait left fd {fd} in the epoll"
        );
        rt.shutdown(Duration::from_secs(5));
        drop(a);
    });
}

/// A Rust task parked in the registered I/O calls (C code called from a
/// Rust task) and cancelled at `shutdown(Duration::ZERO)`: each call
/// returns -1 with `errno` `ECANCELED` instead of unwinding into C, so do
/// later calls, and the task's own frames end normally.
#[test]
fn a_rust_task_in_the_registered_io_calls_is_cancelled_with_ecanceled() {
    use jmpco::ffi::{jmpco_accept, jmpco_close, jmpco_read, jmpco_write};
    watchdog(30, "c_fdio_cancel", || {
        let rt = one_worker();
        let outcomes = Arc::new(Mutex::new(Vec::new()));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let errno = || std::io::Error::last_os_error().raw_os_error();
        for which in ["read", "write", "accept"] {
            let (outcomes, started) = (outcomes.clone(), started_tx.clone());
            rt.spawn(move || {
                let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
                let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
                let big = vec![0u8; 1 << 24]; // more than the socket buffers hold
                let mut buf = [0u8; 8];
                let fd = a.as_raw_fd();
                started.send(()).unwrap();
                // SAFETY: live buffers of the lengths passed; NULL address.
                let (first, again) = unsafe {
                    let mut call = || match which {
                        "read" => jmpco_read(fd, buf.as_mut_ptr().cast(), 8, -1) as i64,
                        "write" => jmpco_write(fd, big.as_ptr().cast(), big.len(), -1) as i64,
                        _ => i64::from(jmpco_accept(
                            listener.as_raw_fd(),
                            std::ptr::null_mut(),
                            std::ptr::null_mut(),
                            -1,
                        )),
                    };
                    let first = (call(), errno());
                    (first, (call(), errno()))
                };
                assert_eq!(jmpco_close(a.into_raw_fd()), 0);
                outcomes.lock().unwrap().push((which, first, again));
            });
        }
        for _ in 0..3 {
            started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        let report = rt.shutdown(Duration::ZERO);
        assert_eq!(report.cancelled, 3);
        let mut outcomes = outcomes.lock().unwrap().clone();
        outcomes.sort();
        let cancelled = (-1, Some(libc::ECANCELED));
        // The write had written what fit before it parked: a short count,
        // then ECANCELED.
        let (write_first, write_again) = (outcomes[2].1, outcomes[2].2);
        assert!(write_first.0 > 0 && write_first.0 < 1 << 24, "{outcomes:?}");
        assert_eq!(write_again, cancelled, "{outcomes:?}");
        assert_eq!(outcomes[0], ("accept", cancelled, cancelled));
        assert_eq!(outcomes[1], ("read", cancelled, cancelled));
    });
}

/// Issue: task A waited on fd N with a timeout; N was closed and its number
/// reused by a socket task B read; A's timeout ran `EPOLL_CTL_DEL` on N, so
/// B's read timed out although its peer had written.
#[test]
fn a_stale_wait_on_a_reused_fd_number_leaves_the_new_sockets_registration_alone() {
    watchdog(30, "stale_wait", || {
        let rt = one_worker();
        let (a_result, b_result) = rt.block_on(|| {
            let (first, _first_peer) = std::os::unix::net::UnixStream::pair().unwrap();
            let n = first.into_raw_fd();
            let waiter = rt::spawn(move || {
                rt::wait_fd(n, Interest::READABLE, Some(Duration::from_millis(100)))
                    .map_err(|e| e.to_string())
            });
            rt::sleep(Duration::from_millis(10));
            // Close N behind the waiter's back and put another socket at the
            // same number, in one step (dup2), so no other thread of the test
            // binary can take the number in between.
            let (second, peer) = std::os::unix::net::UnixStream::pair().unwrap();
            // SAFETY: dup2 onto N, an fd this test owns (the waiter only
            // waits on it), closes N and makes it refer to `second`'s socket.
            assert_eq!(unsafe { libc::dup2(second.as_raw_fd(), n) }, n);
            drop(second);
            // SAFETY: N now refers to `second`'s socket and nothing else owns
            // it.
            let reused = unsafe { std::os::unix::net::UnixStream::from_raw_fd(n) };
            let b = UnixStream::from_std(reused).unwrap();
            b.set_read_timeout(Some(Duration::from_secs(3)));
            let reader = rt::spawn(move || {
                let mut buf = [0u8; 5];
                (&b).read_exact(&mut buf)
                    .map(|()| buf)
                    .map_err(|e| e.to_string())
            });
            // After A's timeout, B's peer writes.
            rt::sleep(Duration::from_millis(300));
            (&peer).write_all(b"hello").unwrap();
            (waiter.join().unwrap(), reader.join().unwrap())
        });
        assert!(a_result.is_err(), "the stale wait fails: {a_result:?}");
        assert_eq!(b_result.as_ref().map(|b| &b[..]), Ok(&b"hello"[..]));
        rt.shutdown(Duration::from_secs(5));
    });
}

static YIELD_UNDER_TIMEOUT: AtomicI32 = AtomicI32::new(0);

/// A C-ABI body (written in Rust, as a Rust library called from a C task
/// would be) that yields through the C API inside an `rt::timeout`, until a
/// yield fails; records that failure's code.
unsafe extern "C" fn yields_under_a_rust_timeout(_: *mut c_void) -> *mut c_void {
    let stopped = rt::timeout(Duration::from_millis(10), || loop {
        // SAFETY: NULL is allowed for resumed_with.
        let rc = unsafe { jmpco_yield(std::ptr::null_mut(), std::ptr::null_mut()) };
        if rc != JMPCO_OK {
            return rc;
        }
    });
    YIELD_UNDER_TIMEOUT.store(stopped.unwrap_or(-1000), Ordering::SeqCst);
    std::ptr::null_mut()
}

/// Issue: in a C task (`jmpco_spawn_task`), Rust code it called that
/// yielded through `jmpco_yield` inside an `rt::timeout` aborted the
/// process when the deadline passed ("jmpco_yield panicked"): the yield of
/// a spawned coroutine let the deadline's unwind into the export's guard,
/// where `jmpco_sleep_ms(0)`, the same wait, stops it. Now it returns
/// `JMPCO_ETIMEDOUT` like the other waits (the frame stays armed; here the
/// closure returns, so its value comes back). Run in a child process: it
/// aborted.
#[test]
fn jmpco_yield_in_a_c_task_stops_a_deadline_unwind_with_etimedout() {
    let scenario = "c-yield-deadline";
    if child::is(scenario) {
        let mut task = std::ptr::null_mut();
        // SAFETY: a C-ABI body that ignores its argument; `task` is writable.
        let spawned = unsafe {
            jmpco_spawn_task(
                &mut task,
                Some(yields_under_a_rust_timeout),
                std::ptr::null_mut(),
                std::ptr::null(),
            )
        };
        assert_eq!(spawned, JMPCO_OK);
        assert_eq!(jmpco::ffi::jmpco_run(), JMPCO_OK);
        assert_eq!(YIELD_UNDER_TIMEOUT.load(Ordering::SeqCst), JMPCO_ETIMEDOUT);
        // SAFETY: the live handle, released once.
        unsafe {
            assert_eq!(jmpco_join(task, std::ptr::null_mut()), JMPCO_OK);
            assert_eq!(jmpco_task_release(task), JMPCO_OK);
        }
        eprintln!("child: yield stopped the deadline");
        return;
    }
    let out = child::run(
        "jmpco_yield_in_a_c_task_stops_a_deadline_unwind_with_etimedout",
        scenario,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stderr.contains("child: yield stopped the deadline"),
        "{out:?}"
    );
}

static C_TASKS_PARKED: AtomicUsize = AtomicUsize::new(0);
static C_WAIT_FD: AtomicI32 = AtomicI32::new(-1);

/// A C-ABI body that parks in `jmpco_sleep_ms` for a minute.
unsafe extern "C" fn c_sleeps(_: *mut c_void) -> *mut c_void {
    C_TASKS_PARKED.fetch_add(1, Ordering::SeqCst);
    jmpco_sleep_ms(60_000);
    unreachable!("an abandoned C task never resumes");
}

/// A C-ABI body that parks in `jmpco_wait_fd` on an fd that never turns
/// readable.
unsafe extern "C" fn c_waits(_: *mut c_void) -> *mut c_void {
    C_TASKS_PARKED.fetch_add(1, Ordering::SeqCst);
    let fd: c_int = C_WAIT_FD.load(Ordering::SeqCst);
    jmpco_wait_fd(fd, JMPCO_READABLE, -1);
    unreachable!("an abandoned C task never resumes");
}

/// Issue: an abandoned C task parked in `jmpco_wait_fd` or `jmpco_sleep_ms`
/// held an `Rc` of its scheduler on its frame, so the worker's epoll fd and
/// mailbox were never freed. Counted in a child process (fd counts).
#[test]
fn abandoned_c_tasks_parked_in_the_c_waits_free_their_scheduler() {
    let scenario = "abandoned-c-tasks";
    if child::is(scenario) {
        let (quiet, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        C_WAIT_FD.store(quiet.as_raw_fd(), Ordering::SeqCst);
        let before = open_fds();
        let rt = one_worker();
        rt.block_on(|| {
            // SAFETY: both bodies are C-ABI functions that ignore their
            // argument.
            unsafe {
                assert_eq!(jmpco_spawn(Some(c_sleeps), std::ptr::null_mut()), 0);
                assert_eq!(jmpco_spawn(Some(c_waits), std::ptr::null_mut()), 0);
            }
        });
        let start = Instant::now();
        while C_TASKS_PARKED.load(Ordering::SeqCst) < 2 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the C tasks started"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(rt.shutdown(Duration::ZERO).cancelled, 2);
        let after = open_fds();
        assert_eq!(
            after, before,
            "fds before the runtime {before}, after shutdown {after}"
        );
        eprintln!("child: fds {before} -> {after}");
        return;
    }
    let out = child::run(
        "abandoned_c_tasks_parked_in_the_c_waits_free_their_scheduler",
        scenario,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("child: fds"), "{out:?}");
}

static C_JOINED_PARKED: AtomicBool = AtomicBool::new(false);

static C_READS_PARKED: AtomicUsize = AtomicUsize::new(0);

/// A C-ABI body that parks in a registered `jmpco_read` on the fd its
/// argument carries, which never turns readable.
unsafe extern "C" fn c_reads(fd: *mut c_void) -> *mut c_void {
    C_READS_PARKED.fetch_add(1, Ordering::SeqCst);
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is writable for its length.
    unsafe { jmpco::ffi::jmpco_read(fd as usize as c_int, buf.as_mut_ptr().cast(), 8, -1) };
    unreachable!("an abandoned C task never resumes");
}

/// A C-ABI body that parks in `jmpco_join` of the task its argument is.
unsafe extern "C" fn c_joins(task: *mut c_void) -> *mut c_void {
    C_READS_PARKED.fetch_add(1, Ordering::SeqCst);
    // SAFETY: a live handle, released by the test only after shutdown.
    unsafe { jmpco_join(task.cast(), std::ptr::null_mut()) };
    unreachable!("an abandoned C task never resumes");
}

/// C tasks abandoned at shutdown while parked in a registered read and in
/// a join leave nothing of their worker behind (epoll fd, mailbox), and the
/// joined task's handle reports `JMPCO_ECANCELED`. Counted in a child
/// process (fd counts).
#[test]
fn abandoned_c_tasks_parked_in_a_registered_read_or_a_join_free_their_scheduler() {
    let scenario = "abandoned-c-read-join";
    if child::is(scenario) {
        let (quiet, _peer) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = quiet.as_raw_fd();
        let before = open_fds();
        let rt = one_worker();
        let sleeper = rt.block_on(move || {
            let mut sleeper = std::ptr::null_mut();
            // SAFETY: C-ABI bodies; `sleeper` is writable; the fd and the
            // handle outlive the runtime.
            unsafe {
                let sleeps = jmpco_spawn_task(
                    &mut sleeper,
                    Some(c_sleeps_then_returns),
                    std::ptr::null_mut(),
                    std::ptr::null(),
                );
                assert_eq!(sleeps, JMPCO_OK);
                assert_eq!(jmpco_spawn(Some(c_reads), fd as usize as *mut c_void), 0);
                assert_eq!(jmpco_spawn(Some(c_joins), sleeper.cast()), 0);
            }
            Handle(sleeper)
        });
        let start = Instant::now();
        while C_READS_PARKED.load(Ordering::SeqCst) < 2 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the C tasks started"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(rt.shutdown(Duration::ZERO).cancelled, 3);
        let after = open_fds();
        assert_eq!(
            after, before,
            "fds before the runtime {before}, after shutdown {after}"
        );
        // SAFETY: the handle is live, and released once, here.
        unsafe {
            assert_eq!(jmpco_join(sleeper.0, std::ptr::null_mut()), JMPCO_ECANCELED);
            assert_eq!(jmpco_task_release(sleeper.0), JMPCO_OK);
        }
        eprintln!("child: fds {before} -> {after}");
        return;
    }
    let out = child::run(
        "abandoned_c_tasks_parked_in_a_registered_read_or_a_join_free_their_scheduler",
        scenario,
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("child: fds"), "{out:?}");
}

/// A C-ABI body that parks in `jmpco_sleep_ms` for a minute, then returns
/// what the sleep returned (it is abandoned at shutdown instead).
unsafe extern "C" fn c_sleeps_then_returns(_: *mut c_void) -> *mut c_void {
    C_JOINED_PARKED.store(true, Ordering::SeqCst);
    jmpco_sleep_ms(60_000) as isize as *mut c_void
}

/// A task handle, moved to the test thread.
struct Handle(*mut jmpco_task);
// SAFETY: a `jmpco_task *` may be used from any thread (the header says so).
unsafe impl Send for Handle {}

/// A Rust task parked in `jmpco_join` (C code called from a Rust task) is
/// cancelled as in the C tier's other waits: the join returns
/// `JMPCO_ECANCELED`, and so does the next. The C task it joined, parked on
/// the same worker, is abandoned at shutdown: a join of it from a plain
/// thread reports `JMPCO_ECANCELED` (no value). In a Rust task,
/// `jmpco_current` is NULL and `jmpco_yield` is `JMPCO_ENOTCORO`: it is
/// no coroutine of the C API.
#[test]
fn a_rust_task_in_jmpco_join_is_cancelled_with_ecanceled() {
    watchdog(30, "c_join_cancel", || {
        let rt = one_worker();
        let codes = Arc::new(Mutex::new(None));
        let (tx, rx) = std::sync::mpsc::channel();
        let c = codes.clone();
        rt.spawn(move || {
            let not_c = (jmpco_current().is_null(), unsafe {
                // SAFETY: NULL `resumed_with`.
                jmpco_yield(std::ptr::null_mut(), std::ptr::null_mut())
            });
            let mut task: *mut jmpco_task = std::ptr::null_mut();
            // SAFETY: a writable out-parameter, a C-ABI body ignoring its
            // argument, default options.
            let rc = unsafe {
                jmpco_spawn_task(
                    &mut task,
                    Some(c_sleeps_then_returns),
                    std::ptr::null_mut(),
                    std::ptr::null(),
                )
            };
            assert_eq!(rc, JMPCO_OK);
            tx.send(Handle(task)).unwrap();
            // SAFETY: a live handle (released by the test thread, later).
            let first = unsafe { jmpco_join(task, std::ptr::null_mut()) };
            // SAFETY: as above.
            let again = unsafe { jmpco_join(task, std::ptr::null_mut()) };
            *c.lock().unwrap() = Some((not_c, first, again));
        });
        let task = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let start = Instant::now();
        while !C_JOINED_PARKED.load(Ordering::SeqCst) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the C task started"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(rt.shutdown(Duration::ZERO).cancelled, 2);
        assert_eq!(
            *codes.lock().unwrap(),
            Some(((true, JMPCO_ENOTCORO), JMPCO_ECANCELED, JMPCO_ECANCELED))
        );
        let mut value = 7 as *mut c_void;
        // SAFETY: a live handle and a writable result.
        assert_eq!(unsafe { jmpco_join(task.0, &mut value) }, JMPCO_ECANCELED);
        assert_eq!(value, 7 as *mut c_void, "no value: left as it was");
        // SAFETY: a live handle, released once.
        assert_eq!(unsafe { jmpco_task_release(task.0) }, JMPCO_OK);
    });
}

/// A task cancelled while a nested coroutine it owns is suspended: the
/// nested coroutine is dropped (unwound) as the task unwinds.
#[test]
fn cancelling_a_task_unwinds_the_coroutines_it_owns() {
    watchdog(30, "nested_cancel", || {
        let rt = one_worker();
        let dropped = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let d = dropped.clone();
        let handle = rt.spawn(move || {
            struct Counts(Arc<AtomicUsize>);
            impl Drop for Counts {
                fn drop(&mut self) {
                    self.0.fetch_add(1, Ordering::Relaxed);
                }
            }
            let inner_count = Counts(d.clone());
            let mut generator: Coroutine<(), u8, ()> = Coroutine::new(move |y, ()| {
                let _held = inner_count;
                loop {
                    y.suspend(1);
                }
            });
            let _outer = Counts(d);
            assert_eq!(generator.resume(()), CoroutineResult::Yield(1));
            tx.send(()).unwrap();
            let seen = Cell::new(0);
            loop {
                rt::sleep(Duration::from_secs(60));
                seen.set(seen.get() + 1);
            }
        });
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert_eq!(rt.shutdown(Duration::ZERO).cancelled, 1);
        assert!(matches!(handle.join(), Err(JoinError::Cancelled)));
        assert_eq!(dropped.load(Ordering::Relaxed), 2);
    });
}

/// A `jmpco_chan *` moved into a task: the handle is shared by design.
#[derive(Clone, Copy)]
struct CChan(*mut jmpco_chan);

// SAFETY: a jmpco_chan is made to be used from every thread at once (its
// calls lock what they share); the pointer is only passed to them.
unsafe impl Send for CChan {}

impl CChan {
    fn make(capacity: usize) -> CChan {
        let mut ch = std::ptr::null_mut();
        // SAFETY: `ch` is writable storage for the handle.
        assert_eq!(unsafe { jmpco_chan_make(capacity, &mut ch) }, JMPCO_OK);
        CChan(ch)
    }

    fn send(self, value: usize, timeout_ms: c_int) -> c_int {
        // SAFETY: a live channel: every test frees it only at its end.
        unsafe { jmpco_chan_send(self.0, value as *mut c_void, timeout_ms) }
    }

    fn recv(self, timeout_ms: c_int) -> Result<usize, c_int> {
        let mut out = std::ptr::null_mut();
        // SAFETY: a live channel, and `out` is writable storage.
        match unsafe { jmpco_chan_recv(self.0, &mut out, timeout_ms) } {
            JMPCO_OK => Ok(out as usize),
            code => Err(code),
        }
    }

    fn free(self) -> c_int {
        // SAFETY: a live channel, not used again once freed.
        unsafe { jmpco_chan_free(self.0) }
    }
}

/// Issue: C code a Rust task called, in a `jmpco_write` that had written
/// part of its buffer and parked for room, got -1 with `EAGAIN` when the
/// task's `rt::timeout` deadline passed: the header promises the count of
/// the bytes written (a short count), and C code told "nothing written"
/// would send those bytes twice. Now the count comes back, as for a
/// cancellation; the frame stays armed and fires at the next park.
#[test]
fn a_deadline_ending_a_partial_jmpco_write_returns_the_count_written() {
    use jmpco::ffi::{jmpco_close, jmpco_write};
    watchdog(30, "c_write_deadline", || {
        let rt = one_worker();
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = a.into_raw_fd();
        let big = vec![7u8; 4 << 20];
        let (written, fired) = rt.block_on(move || {
            let written = Cell::new(0);
            let fired = rt::timeout(Duration::from_millis(30), || {
                // SAFETY: `big` is readable for its length.
                written.set(unsafe { jmpco_write(fd, big.as_ptr().cast(), big.len(), -1) });
                rt::sleep(Duration::from_secs(60));
            });
            assert_eq!(jmpco_close(fd), 0);
            (written.get(), fired)
        });
        assert_eq!(fired, Err(rt::Elapsed), "the frame fired at the next park");
        assert!(written > 0, "a short count, not -1 ({written})");
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got.len() as isize, written, "the count is what went out");
    });
}

/// Issue: a Rust task's `jmpco_chan_send` parked on a rendezvous channel,
/// whose message a receiver took from its hand before the task ran again,
/// returned `JMPCO_ETIMEDOUT` when the task's `rt::timeout` deadline had
/// passed by the time it ran (or `JMPCO_ECANCELED`, for an abort in that
/// turn): the header says every outcome but `JMPCO_OK` leaves the message
/// unsent, so C code would free or resend a message the receiver has. Now
/// such a send returns `JMPCO_OK`, as a cancelled C task's does; the frame
/// stays armed (here the closure returns, so its value comes back).
#[test]
fn a_c_send_taken_before_its_deadline_unwind_returns_ok() {
    watchdog(30, "c_chan_taken_then_deadline", || {
        let rt = one_worker();
        let ch = CChan::make(0);
        let (code, got) = rt.block_on(move || {
            let receiver = rt::spawn(move || {
                rt::sleep(Duration::from_millis(10));
                // Takes the parked sender's message from its hand, then
                // keeps the worker busy past the sender's deadline.
                let got = ch.recv(0);
                std::thread::sleep(Duration::from_millis(40));
                got
            });
            let code = rt::timeout(Duration::from_millis(30), || ch.send(7, -1));
            (code, receiver.join().unwrap())
        });
        assert_eq!(got, Ok(7), "the receiver took the message");
        assert_eq!(code, Ok(JMPCO_OK), "so the send says it was sent");
        assert_eq!(ch.free(), JMPCO_OK);
    });
}

/// A Rust task cancelled while C code it called waits in a C channel gets
/// `JMPCO_ECANCELED` and loses no message: the sender's was not sent, and
/// nothing was taken from the receiver's channel. Its later waits are
/// refused with `JMPCO_ECANCELED` too (not a timeout, however long their
/// limit), and so is a try, which takes or sends nothing.
#[test]
fn a_rust_task_cancelled_in_a_c_channel_wait_gets_ecanceled_and_keeps_the_message() {
    watchdog(30, "c_chan_cancel", || {
        let rt = one_worker();
        let full = CChan::make(1);
        assert_eq!(full.send(1, 0), JMPCO_OK);
        let empty = CChan::make(1);
        let codes = Arc::new(Mutex::new(Vec::new()));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        for which in ["send", "recv"] {
            let (codes, started) = (codes.clone(), started_tx.clone());
            rt.spawn(move || {
                started.send(()).unwrap();
                let code = |r: Result<usize, c_int>| r.err().unwrap_or(JMPCO_OK);
                let (first, again, tried) = match which {
                    "send" => (full.send(2, -1), full.send(3, 10_000), full.send(4, 0)),
                    _ => (
                        code(empty.recv(-1)),
                        code(empty.recv(10_000)),
                        code(empty.recv(0)),
                    ),
                };
                codes.lock().unwrap().push((which, first, again, tried));
            });
        }
        for _ in 0..2 {
            started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
        let start = Instant::now();
        assert_eq!(rt.shutdown(Duration::ZERO).cancelled, 2);
        assert!(start.elapsed() < Duration::from_secs(5), "no wait ran out");
        let mut codes = codes.lock().unwrap().clone();
        codes.sort();
        assert_eq!(
            codes,
            [
                ("recv", JMPCO_ECANCELED, JMPCO_ECANCELED, JMPCO_ECANCELED),
                ("send", JMPCO_ECANCELED, JMPCO_ECANCELED, JMPCO_ECANCELED),
            ]
        );
        assert_eq!(full.recv(0), Ok(1), "the buffered message is still there");
        assert_eq!(full.recv(0), Err(JMPCO_ETIMEDOUT), "and only it");
        assert_eq!(empty.recv(0), Err(JMPCO_ETIMEDOUT));
        // The cancelled calls have returned: nothing holds the channels.
        assert_eq!(full.free(), JMPCO_OK);
        assert_eq!(empty.free(), JMPCO_OK);
    });
}

/// A message handed to a Rust task parked in `jmpco_chan_recv`, with the
/// task cancelled at about the same moment, is received exactly once:
/// either the task got it (`JMPCO_OK`), or it was cancelled first and the
/// message went back into the channel.
#[test]
fn a_message_handed_to_a_receiver_being_cancelled_is_received_exactly_once() {
    watchdog(60, "c_chan_cancel_race", || {
        let (mut received, mut returned) = (0, 0);
        for round in 0..40 {
            let rt = one_worker();
            let ch = CChan::make(1);
            let got = Arc::new(Mutex::new(None));
            let (parked_tx, parked_rx) = std::sync::mpsc::channel();
            let g = got.clone();
            rt.spawn(move || {
                parked_tx.send(()).unwrap();
                *g.lock().unwrap() = Some(ch.recv(-1));
            });
            parked_rx.recv_timeout(Duration::from_secs(10)).unwrap();
            std::thread::sleep(Duration::from_millis(2));
            // Hands the message to the parked receiver, then cancels it; a
            // short spin varies which comes first.
            assert_eq!(ch.send(100 + round, 0), JMPCO_OK);
            let spin = Instant::now();
            while spin.elapsed() < Duration::from_micros((round % 8) as u64 * 20) {}
            rt.shutdown(Duration::ZERO);
            let outcome = got.lock().unwrap().expect("the task recorded its outcome");
            match outcome {
                Ok(v) => {
                    assert_eq!(v, 100 + round);
                    assert_eq!(ch.recv(0), Err(JMPCO_ETIMEDOUT), "delivered twice");
                    received += 1;
                }
                Err(code) => {
                    assert_eq!(code, JMPCO_ECANCELED);
                    assert_eq!(ch.recv(0), Ok(100 + round), "lost");
                    returned += 1;
                }
            }
            assert_eq!(ch.free(), JMPCO_OK);
        }
        eprintln!("received by the task: {received}, put back: {returned}");
    });
}

static C_CHAN: AtomicUsize = AtomicUsize::new(0);

/// A C-ABI body that parks in `jmpco_chan_recv` on `C_CHAN`, which stays
/// empty.
unsafe extern "C" fn c_receives(_: *mut c_void) -> *mut c_void {
    C_TASKS_PARKED.fetch_add(1, Ordering::SeqCst);
    let ch = CChan(C_CHAN.load(Ordering::SeqCst) as *mut jmpco_chan);
    let _ = ch.recv(-1);
    unreachable!("an abandoned C task never resumes");
}

/// The documented outcome for a C coroutine abandoned while it waits on a
/// channel (spawned from a Rust task onto a runtime's worker, which
/// abandons it at shutdown): the shutdown is not held up, and the wait is
/// left behind, so `jmpco_chan_free` answers `JMPCO_EBUSY` (and the
/// channel is leaked) and a message sent to the dead waiter is lost; the
/// channel still closes.
#[test]
fn a_c_coroutine_abandoned_in_a_channel_wait_leaves_its_wait_behind() {
    watchdog(30, "c_chan_abandoned", || {
        let ch = CChan::make(0);
        C_CHAN.store(ch.0 as usize, Ordering::SeqCst);
        let parked_before = C_TASKS_PARKED.load(Ordering::SeqCst);
        let rt = one_worker();
        rt.block_on(|| {
            // SAFETY: a C-ABI function that ignores its argument.
            let spawned = unsafe { jmpco_spawn(Some(c_receives), std::ptr::null_mut()) };
            assert_eq!(spawned, JMPCO_OK);
        });
        let start = Instant::now();
        while C_TASKS_PARKED.load(Ordering::SeqCst) == parked_before {
            assert!(start.elapsed() < Duration::from_secs(10), "the C task ran");
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(rt.shutdown(Duration::ZERO).cancelled, 1);
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(ch.free(), JMPCO_EBUSY, "the abandoned wait holds it");
        assert_eq!(ch.send(7, 0), JMPCO_OK, "handed to the dead waiter");
        assert_eq!(ch.recv(0), Err(JMPCO_ETIMEDOUT), "and lost with it");
        // SAFETY: the live (leaked) channel.
        assert_eq!(unsafe { jmpco_chan_close(ch.0) }, JMPCO_OK);
        assert_eq!(ch.send(8, -1), JMPCO_ECLOSED);
        assert_eq!(ch.free(), JMPCO_EBUSY, "still held: leaked for good");
    });
}
