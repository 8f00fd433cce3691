//! The runtime at the edges of its inputs and resources: huge and zero
//! durations, exhausted resources, misuse. Each test names the outcome it
//! pins. Loopback only; every test is bounded by a watchdog.

mod rt_support;
mod support;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use jmpco::rt::{self, Interest, JoinError, Runtime, TcpListener, TcpStream, UnixStream};
use jmpco::stack::MIN_STACK_SIZE;
use rt_support::{one_worker, panic_text, watchdog};
use support::child;

#[test]
fn duration_max_sleep_parks_until_shutdown_cancels_it() {
    watchdog(30, "duration_max_sleep", || {
        let rt = one_worker();
        let (tx, rx) = std::sync::mpsc::channel();
        let handle = rt.spawn(move || {
            tx.send(()).unwrap();
            rt::sleep(Duration::MAX);
            unreachable!("a sleep of Duration::MAX never ends by itself");
        });
        rx.recv_timeout(Duration::from_secs(10)).expect("started");
        std::thread::sleep(Duration::from_millis(20));
        assert!(!handle.is_finished(), "Duration::MAX means forever");
        let report = rt.shutdown(Duration::ZERO);
        assert_eq!(report.cancelled, 1);
        assert!(matches!(handle.join(), Err(rt::JoinError::Cancelled)));
    });
}

#[test]
fn duration_max_sleep_outside_a_task_is_not_a_panic() {
    // Outside a task `sleep` is std's, which takes Duration::MAX as forever
    // too; only check that a zero sleep returns at once there.
    let start = Instant::now();
    rt::sleep(Duration::ZERO);
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[test]
fn duration_max_io_timeouts_mean_no_timeout() {
    watchdog(30, "duration_max_io_timeouts", || {
        let rt = one_worker();
        let got = rt.block_on(|| {
            let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = listener.local_addr().unwrap();
            let client = rt::spawn(move || {
                let s = TcpStream::connect_timeout(&addr, Some(Duration::MAX)).expect("connect");
                s.set_write_timeout(Some(Duration::MAX));
                rt::sleep(Duration::from_millis(30));
                (&s).write_all(b"late").expect("write");
                s
            });
            let (server, _) = listener.accept().expect("accept");
            server.set_read_timeout(Some(Duration::MAX));
            let mut buf = [0u8; 4];
            (&server).read_exact(&mut buf).expect("read");
            let _client = client.join().expect("client");
            buf
        });
        assert_eq!(&got, b"late");
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn duration_max_wait_fd_waits_for_readiness_inside_and_outside_a_task() {
    watchdog(30, "duration_max_wait_fd", || {
        // Outside a task: poll(2) with no timeout.
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            (&b).write_all(b"x").unwrap();
            b
        });
        rt::wait_fd(a.as_raw_fd(), Interest::READABLE, Some(Duration::MAX)).expect("ready");
        drop(writer.join());
        // Inside a task: parked with no timer.
        let rt = one_worker();
        rt.block_on(|| {
            let (a, b) = UnixStream::pair().unwrap();
            let fd = a.as_raw_fd();
            let writer = rt::spawn(move || {
                rt::sleep(Duration::from_millis(20));
                (&b).write_all(b"y").unwrap();
                b
            });
            rt::wait_fd(fd, Interest::READABLE, Some(Duration::MAX)).expect("ready");
            drop(writer.join());
            drop(a);
        });
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn shutdown_with_duration_max_grace_waits_for_every_task_to_end() {
    watchdog(30, "shutdown_duration_max", || {
        let rt = one_worker();
        let handle = rt.spawn(|| {
            rt::sleep(Duration::from_millis(50));
            7
        });
        let report = rt.shutdown(Duration::MAX);
        assert_eq!(
            report.cancelled, 0,
            "no task is cancelled without a deadline"
        );
        assert_eq!(handle.join().ok(), Some(7));
    });
}

// ---- no thread, no stack ---------------------------------------------------

/// This process's address space in use now (`VmSize`), in bytes.
fn address_space_in_use() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in /proc/self/status");
    kib * 1024
}

/// Caps this process's address space a little above what it uses now:
/// small allocations still fit, a new thread's stack (2 MiB by default)
/// does not.
fn cap_address_space_just_above_its_size() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit, to `lim`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) }, 0);
    lim.rlim_cur = (address_space_in_use() + 512 * 1024).min(lim.rlim_max);
    // SAFETY: setrlimit reads one rlimit, from `lim`.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) }, 0);
}

/// In a child process (the limit is process-wide): with no room for a
/// thread's stack, the pool can start no thread, and none exists, so the
/// job is refused at once instead of waiting in the queue forever.
#[test]
fn spawn_blocking_with_no_thread_to_be_had_completes_not_started() {
    const SCENARIO: &str = "spawn-blocking-no-thread";
    if child::is(SCENARIO) {
        // No watchdog thread here: a thread that maps or unmaps while the
        // cap is set could leave room for a stack. The parent bounds the
        // child instead (60 s).
        cap_address_space_just_above_its_size();
        let probe = std::thread::Builder::new().spawn(|| ());
        assert!(probe.is_err(), "child: the cap leaves no room for a thread");
        let start = Instant::now();
        let got = rt::spawn_blocking(|| 1).join();
        let elapsed = start.elapsed();
        match &got {
            Err(JoinError::NotStarted(e)) => eprintln!("child: not started: {e}"),
            other => panic!("child: expected NotStarted, got {other:?}"),
        }
        assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
        let payload = std::panic::catch_unwind(|| rt::unblock(|| 2))
            .expect_err("unblock of a job that cannot start panics");
        eprintln!("child: unblock panicked: {}", panic_text(payload.as_ref()));
        return;
    }
    let out = watchdog(90, "spawn_blocking_no_thread", || {
        child::run(
            "spawn_blocking_with_no_thread_to_be_had_completes_not_started",
            SCENARIO,
        )
    });
    assert_eq!(out.code, Some(0), "the child passed: {out:?}");
    let cause = out.line("child: not started: ");
    assert!(!cause.is_empty());
    let message = out.line("child: unblock panicked: ");
    assert!(
        message.contains("could not be started") && message.contains(cause),
        "the panic names the cause ({cause}): {message}"
    );
}

/// In a child process: a runtime whose tasks take 8 MiB stacks, then a cap
/// that leaves no room for one; the worker cannot make the task, and its
/// handle says why.
#[test]
fn a_task_with_no_stack_to_be_had_completes_not_started() {
    const SCENARIO: &str = "spawn-no-stack";
    if child::is(SCENARIO) {
        let rt = Runtime::builder()
            .worker_threads(1)
            .stack_size(8 << 20)
            .build()
            .expect("runtime");
        cap_address_space_just_above_its_size();
        let start = Instant::now();
        match rt.spawn(|| 1).join() {
            Err(JoinError::NotStarted(e)) => eprintln!("child: not started: {e}"),
            other => panic!("child: expected NotStarted, got {other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(5));
        let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(|| 2)))
            .expect_err("block_on of a task that cannot start panics");
        eprintln!("child: block_on panicked: {}", panic_text(payload.as_ref()));
        rt.shutdown(Duration::from_secs(5));
        return;
    }
    let out = watchdog(90, "spawn_no_stack", || {
        child::run(
            "a_task_with_no_stack_to_be_had_completes_not_started",
            SCENARIO,
        )
    });
    assert_eq!(out.code, Some(0), "the child passed: {out:?}");
    let cause = out.line("child: not started: ");
    assert!(cause.contains("cannot map"), "the stack's error: {cause}");
    let message = out.line("child: block_on panicked: ");
    assert!(
        message.contains("could not be started") && message.contains("cannot map"),
        "the panic names the cause: {message}"
    );
}

// ---- a runtime stopped from one of its own tasks ---------------------------

/// How many of this process's threads have a name starting with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Waits (at most 10 s) until no thread named `prefix*` is left.
fn wait_for_threads_to_exit(prefix: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while threads_named(prefix) > 0 {
        assert!(
            Instant::now() < deadline,
            "{} `{prefix}` threads still running",
            threads_named(prefix)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Two workers with `name`, a task parked forever on each (started, so
/// their cancel unwinds a live stack), and the runtime in a slot a task can
/// take it from.
#[allow(clippy::type_complexity)]
fn two_workers_each_with_a_parked_task(
    name: &str,
) -> (
    rt::Handle,
    Arc<Mutex<Option<Runtime>>>,
    [rt::JoinHandle<()>; 2],
) {
    let rt = Runtime::builder()
        .worker_threads(2)
        .thread_name(name)
        .build()
        .expect("runtime");
    let handle = rt.handle().clone();
    let (tx, rx) = mpsc::channel();
    let parked = [0, 1].map(|i| {
        let tx = tx.clone();
        handle.spawn_on(i, move || {
            tx.send(()).unwrap();
            rt::sleep(Duration::MAX);
        })
    });
    for _ in 0..2 {
        rx.recv_timeout(Duration::from_secs(10)).expect("started");
    }
    (handle, Arc::new(Mutex::new(Some(rt))), parked)
}

#[test]
fn shutdown_from_one_of_its_own_tasks_panics_with_a_clear_message() {
    watchdog(30, "shutdown_from_own_task", || {
        let (handle, slot, parked) = two_workers_each_with_a_parked_task("jmpco-sdown");
        let stopper = handle.spawn_on(0, move || {
            let rt = slot.lock().unwrap().take().expect("the runtime");
            rt.shutdown(Duration::from_secs(5));
        });
        let payload = match stopper.join() {
            Err(JoinError::Panicked(p)) => p,
            other => panic!("shutdown from a task must panic, got {other:?}"),
        };
        let message = panic_text(payload.as_ref());
        assert!(
            message.contains("Runtime::shutdown called from one of the runtime's own tasks")
                && message.contains("call it from a thread outside the runtime"),
            "the message names the misuse and the fix: {message}"
        );
        // The panic dropped the runtime as it unwound: it stopped.
        for p in parked {
            assert!(matches!(p.join(), Err(JoinError::Cancelled)));
        }
        wait_for_threads_to_exit("jmpco-sdown");
    });
}

#[test]
fn dropping_a_runtime_in_one_of_its_own_tasks_stops_it() {
    watchdog(30, "drop_in_own_task", || {
        let (handle, slot, [here, there]) = two_workers_each_with_a_parked_task("jmpco-dself");
        let dropper = handle.spawn_on(0, move || {
            drop(slot.lock().unwrap().take().expect("the runtime"));
            // The drop has joined worker 1: its task is cancelled already.
            let there_finished = there.is_finished();
            (there_finished, there.join().err())
        });
        let (there_finished, there_error) = dropper.join().expect("the dropping task returns");
        assert!(there_finished, "the drop joined the other worker");
        assert!(matches!(there_error, Some(JoinError::Cancelled)));
        // Its own worker cancels its other task once the dropper has returned.
        assert!(matches!(here.join(), Err(JoinError::Cancelled)));
        wait_for_threads_to_exit("jmpco-dself");
    });
}

// ---- task stack settings checked by build() --------------------------------

#[test]
fn stack_size_below_the_minimum_is_refused_by_build() {
    watchdog(30, "stack_size_below_minimum", || {
        for size in [0, 1, MIN_STACK_SIZE - 1] {
            let err = Runtime::builder()
                .worker_threads(1)
                .stack_size(size)
                .build()
                .expect_err("a stack size below the minimum is refused");
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
            let message = err.to_string();
            assert!(
                message.contains(&format!("stack size {size} is below the minimum"))
                    && message.contains(&MIN_STACK_SIZE.to_string()),
                "the message names the size and the minimum: {message}"
            );
        }
        let rt = Runtime::builder()
            .worker_threads(1)
            .stack_size(MIN_STACK_SIZE)
            .build()
            .expect("the minimum is accepted");
        assert_eq!(rt.block_on(|| 2 + 2), 4, "a task runs on the minimum");
        rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn stack_size_too_large_to_map_is_refused_by_build() {
    watchdog(30, "stack_size_too_large", || {
        // usize::MAX does not fit in an isize once rounded; 2^60 bytes fits
        // but is more address space than any x86-64 or aarch64 process has.
        for size in [usize::MAX, 1 << 60] {
            let err = Runtime::builder()
                .worker_threads(1)
                .stack_size(size)
                .build()
                .expect_err("a stack size too large to map is refused");
            let message = err.to_string();
            assert!(
                message.contains(&format!("stack size {size}")),
                "the message names the size: {message}"
            );
        }
    });
}
