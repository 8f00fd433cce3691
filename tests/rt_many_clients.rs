//! 5,000 clients connected at once to one single-threaded server (and to a
//! two-worker one), each echoed, held open together, then released by a
//! shutdown. Clients are tasks of a second runtime. Alone in its binary
//! because it raises `RLIMIT_NOFILE` and uses ~10,000 fds.

mod rt_support;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jmpco::rt::{self, Runtime, TcpStream};
use jmpco::Backend;
use rt_support::{raise_nofile, watchdog};

const CLIENTS: usize = 5000;

#[test]
fn five_thousand_concurrent_clients_are_all_served() {
    assert!(raise_nofile(2 * CLIENTS as u64 + 1000) >= 2 * CLIENTS as u64 + 200);
    watchdog(120, "5000 clients", || {
        for (backend, workers) in [(Backend::Sjlj, 1), (Backend::Ucontext, 2)] {
            run(backend, workers);
        }
    });
}

fn run(backend: Backend, workers: usize) {
    let server = Runtime::builder()
        .worker_threads(workers)
        .backend(backend)
        .stack_size(16 * 1024)
        .build()
        .unwrap();
    let live = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (l, p) = (live.clone(), peak.clone());
    let addr = server
        .serve("127.0.0.1:0".parse().unwrap(), move |s| {
            let now = l.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            rt_support::echo(s);
            l.fetch_sub(1, Ordering::SeqCst);
        })
        .unwrap();

    let clients = Runtime::builder()
        .worker_threads(1)
        .backend(backend)
        .stack_size(16 * 1024)
        .build()
        .unwrap();
    let echoed = Arc::new(AtomicUsize::new(0));
    let e = echoed.clone();
    let done = clients.spawn(move || {
        let hs: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let e = e.clone();
                rt::spawn(move || one_client(addr, i, &e))
            })
            .collect();
        hs.into_iter()
            .filter(|_| true)
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count()
    });

    // Every client echoed and holds its connection: all are live at once.
    let t = Instant::now();
    while echoed.load(Ordering::SeqCst) < CLIENTS || live.load(Ordering::SeqCst) < CLIENTS {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "only {} echoed, {} live",
            echoed.load(Ordering::SeqCst),
            live.load(Ordering::SeqCst)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(peak.load(Ordering::SeqCst), CLIENTS);
    // Closing the server ends every connection; each client sees EOF.
    let report = server.shutdown(Duration::ZERO);
    assert_eq!(report.cancelled, (CLIENTS + workers) as u64);
    assert_eq!(done.join().unwrap(), CLIENTS);
    clients.shutdown(Duration::ZERO);
}

/// Connects, echoes one message, then waits for the server to close.
fn one_client(addr: SocketAddr, i: usize, echoed: &AtomicUsize) -> bool {
    let s = TcpStream::connect_timeout(&addr, Some(Duration::from_secs(30))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60)));
    s.set_write_timeout(Some(Duration::from_secs(60)));
    let msg = format!("hello from client {i:05}");
    (&s).write_all(msg.as_bytes()).unwrap();
    let mut back = vec![0u8; msg.len()];
    (&s).read_exact(&mut back).unwrap();
    assert_eq!(back, msg.as_bytes());
    echoed.fetch_add(1, Ordering::SeqCst);
    let mut rest = Vec::new();
    (&s).read_to_end(&mut rest).is_ok() && rest.is_empty()
}
