//! `examples/proxy.rs` driven by test clients: both directions copied,
//! half-close propagated, many clients at once, one that resets, an idle
//! timeout, an unreachable upstream. The example's `serve` is compiled in
//! (the file is included as a module), against an echo upstream; loopback
//! only, every test bounded by a watchdog.

mod rt_support;

#[path = "../examples/proxy.rs"]
#[allow(dead_code)]
mod proxy;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream as StdStream};
use std::thread;
use std::time::{Duration, Instant};

use jmpco::rt::Runtime;
use jmpco::Backend;
use rt_support::{client, echo_server, linger_zero, pattern, watchdog};

fn proxy_to(upstream: SocketAddr, idle: Duration) -> (Runtime, SocketAddr) {
    let rt = Runtime::builder()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let config = proxy::Config {
        upstream,
        connect_timeout: Duration::from_secs(2),
        idle,
    };
    let addr = proxy::serve(&rt, "127.0.0.1:0".parse().unwrap(), config).expect("serve");
    (rt, addr)
}

/// Writes `data`, half-closes, and reads until EOF.
fn round_trip(addr: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut s = client(addr);
    let writer = {
        let mut w = s.try_clone().unwrap();
        let data = data.to_vec();
        thread::spawn(move || {
            w.write_all(&data).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut back = Vec::new();
    s.read_to_end(&mut back).expect("read to EOF");
    writer.join().unwrap();
    back
}

#[test]
fn the_proxy_copies_both_ways_and_propagates_a_half_close() {
    watchdog(60, "proxy_both_ways", || {
        let (upstream_rt, upstream) = echo_server(1, Backend::default());
        let (rt, addr) = proxy_to(upstream, Duration::from_secs(30));
        let data = pattern(1 << 20, 7);
        assert_eq!(round_trip(addr, &data), data, "1 MiB through and back");
        rt.shutdown(Duration::from_secs(5));
        upstream_rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn many_clients_at_once_and_one_that_resets() {
    watchdog(60, "proxy_many", || {
        let (upstream_rt, upstream) = echo_server(1, Backend::default());
        let (rt, addr) = proxy_to(upstream, Duration::from_secs(30));
        let resetter = thread::spawn(move || {
            let mut s = client(addr);
            s.write_all(&pattern(100_000, 1)).unwrap();
            linger_zero(&s);
            drop(s); // a reset mid-stream
        });
        let clients: Vec<_> = (0..20u64)
            .map(|i| {
                thread::spawn(move || {
                    let data = pattern(64 * 1024, i + 10);
                    round_trip(addr, &data) == data
                })
            })
            .collect();
        resetter.join().unwrap();
        let ok = clients
            .into_iter()
            .filter_map(|c| c.join().ok())
            .filter(|&same| same)
            .count();
        assert_eq!(ok, 20, "every well-behaved client got its bytes back");
        rt.shutdown(Duration::from_secs(5));
        upstream_rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    watchdog(30, "proxy_idle", || {
        let (upstream_rt, upstream) = echo_server(1, Backend::default());
        let (rt, addr) = proxy_to(upstream, Duration::from_millis(150));
        let mut s = client(addr);
        s.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).unwrap();
        let start = Instant::now();
        let mut rest = Vec::new();
        let n = s.read_to_end(&mut rest).unwrap_or(0);
        let waited = start.elapsed();
        assert_eq!(n, 0, "nothing more came");
        assert!(
            waited >= Duration::from_millis(100),
            "closed early: {waited:?}"
        );
        assert!(waited < Duration::from_secs(5), "closed late: {waited:?}");
        rt.shutdown(Duration::from_secs(5));
        upstream_rt.shutdown(Duration::from_secs(5));
    });
}

#[test]
fn an_unreachable_upstream_closes_the_client() {
    watchdog(30, "proxy_unreachable", || {
        let nobody = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        }; // closed: connecting there is refused
        let (rt, addr) = proxy_to(nobody, Duration::from_secs(30));
        let mut s = StdStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 8];
        let n = s.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "the client is closed");
        rt.shutdown(Duration::from_secs(5));
    });
}
