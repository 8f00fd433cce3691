//! The runtime at the edges of its inputs and resources: huge and zero
//! durations, exhausted resources, misuse. Each test names the outcome it
//! pins. Loopback only; every test is bounded by a watchdog.

mod rt_support;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use jmpco::rt::{self, Interest, Runtime, TcpListener, TcpStream, UnixStream};
use rt_support::watchdog;

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
