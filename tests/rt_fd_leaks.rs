//! No fd outlives its connection: after many clients come and go (clean
//! closes, resets, a panicking handler), the process has the fds it had
//! before they came, and after shutdown the fds it had before the runtime.
//! Alone in its binary: it counts `/proc/self/fd`.

mod rt_support;

use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};

use jmpco::rt::Runtime;
use jmpco::Backend;
use rt_support::{client, linger_zero, open_fds, read_n, watchdog};

#[test]
fn no_fd_leaks_after_all_clients_leave() {
    watchdog(60, "fd leaks", || {
        for backend in Backend::ALL {
            for workers in [1, 2] {
                run(backend, workers);
            }
        }
    });
}

fn run(backend: Backend, workers: usize) {
    let before_runtime = open_fds();
    let rt = Runtime::builder()
        .worker_threads(workers)
        .backend(backend)
        .build()
        .unwrap();
    let addr = rt
        .serve("127.0.0.1:0".parse().unwrap(), |mut s| {
            let mut first = [0u8; 1];
            if s.read_exact(&mut first).is_err() {
                return;
            }
            if first[0] == b'!' {
                panic!("fd-leak test: handler panics on purpose");
            }
            s.write_all(&first).unwrap();
            rt_support::echo(s);
        })
        .unwrap();
    let baseline = open_fds();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..25u8 {
                    let mut s = client(addr);
                    match i % 5 {
                        0 => s.write_all(b"!").unwrap(), // handler panics
                        1 => {
                            // Reset mid-stream.
                            s.write_all(&[b'a'; 10000]).unwrap();
                            linger_zero(&s);
                        }
                        _ => {
                            s.write_all(&[t, i]).unwrap();
                            assert_eq!(read_n(&mut s, 2).unwrap(), [t, i]);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // The server closes its ends as it sees the clients go.
    let t = Instant::now();
    while open_fds() > baseline {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{} fds open, {baseline} before the clients",
            open_fds()
        );
        thread::sleep(Duration::from_millis(10));
    }
    rt.shutdown(Duration::from_millis(100));
    assert_eq!(open_fds(), before_runtime, "fds left after shutdown");
}
