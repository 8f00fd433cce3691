//! The runtime at the edges of its inputs and resources: huge and zero
//! durations, exhausted resources, misuse. Each test names the outcome it
//! pins. Loopback only; every test is bounded by a watchdog.

mod rt_support;
mod support;

use std::any::Any;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use jmpco::rt::{self, Interest, JoinError, Runtime, TcpListener, TcpStream, UnixStream};
use rt_support::watchdog;
use support::child;

fn runtime() -> Runtime {
    Runtime::builder()
        .worker_threads(1)
        .build()
        .expect("runtime")
}

#[test]
fn duration_max_sleep_parks_until_shutdown_cancels_it() {
    watchdog(30, "duration_max_sleep", || {
        let rt = runtime();
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
        let rt = runtime();
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
        let rt = runtime();
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
        let rt = runtime();
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

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string payload)".to_owned()
    }
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
    let cause = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("child: not started: "))
        .unwrap_or_else(|| panic!("the child saw NotStarted: {}", out.stderr));
    assert!(!cause.is_empty());
    let message = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("child: unblock panicked: "))
        .unwrap_or_else(|| panic!("the child's unblock panicked: {}", out.stderr));
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
    let cause = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("child: not started: "))
        .unwrap_or_else(|| panic!("the child saw NotStarted: {}", out.stderr));
    assert!(cause.contains("cannot map"), "the stack's error: {cause}");
    let message = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("child: block_on panicked: "))
        .unwrap_or_else(|| panic!("the child's block_on panicked: {}", out.stderr));
    assert!(
        message.contains("could not be started") && message.contains("cannot map"),
        "the panic names the cause: {message}"
    );
}
