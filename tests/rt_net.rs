//! The rest of the network: UDP sockets, Unix listeners and connects, and
//! name resolution that runs on the blocking pool in a task. Loopback only;
//! names: `localhost` only.

mod rt_support;

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use jmpco::rt::{self, TcpStream, UdpSocket, UnixListener, UnixStream};
use rt_support::{one_worker, watchdog};

// ---- UDP ----------------------------------------------------------------

/// A loopback UDP socket with a 5 s read timeout, so a lost wake-up fails
/// the test instead of hanging it.
fn udp() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(5)));
    s
}

/// The server answers a burst of datagrams that all arrived before it
/// woke: each `recv_from` must find the next one queued without a new
/// edge (a successful datagram receive must not clear readiness).
#[test]
fn udp_echo_between_two_tasks_answers_a_whole_burst() {
    watchdog(
        30,
        "udp_echo_between_two_tasks_answers_a_whole_burst",
        || {
            let rt = one_worker();
            let replies = rt.block_on(|| {
                const N: usize = 20;
                let server = udp();
                let server_addr = server.local_addr().unwrap();
                let echo = rt::spawn(move || {
                    let mut buf = [0u8; 1500];
                    for _ in 0..N {
                        let (n, from) = server.recv_from(&mut buf).expect("server recv");
                        server.send_to(&buf[..n], from).expect("server send");
                    }
                });
                // Let the server park on an empty socket first.
                rt::yield_now();
                let client = udp();
                for i in 0..N {
                    client
                        .send_to(format!("datagram {i}").as_bytes(), server_addr)
                        .unwrap();
                }
                let mut replies = Vec::new();
                let mut buf = [0u8; 1500];
                for _ in 0..N {
                    let (n, from) = client.recv_from(&mut buf).expect("reply (lost wake-up?)");
                    assert_eq!(from, server_addr);
                    replies.push(String::from_utf8(buf[..n].to_vec()).unwrap());
                }
                echo.join().unwrap();
                replies
            });
            let mut want: Vec<String> = (0..20).map(|i| format!("datagram {i}")).collect();
            let mut got = replies;
            want.sort();
            got.sort();
            assert_eq!(got, want, "every datagram answered exactly once");
        },
    );
}

/// A task that only receives gets a whole burst that arrived while it was
/// parked: no send of its own raises an edge that would mask a readiness
/// bit cleared too early.
#[test]
fn udp_receiver_task_gets_every_datagram_of_a_burst() {
    watchdog(
        30,
        "udp_receiver_task_gets_every_datagram_of_a_burst",
        || {
            let rt = one_worker();
            let got = rt.block_on(|| {
                let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
                sink.set_read_timeout(Some(Duration::from_secs(2)));
                let to = sink.local_addr().unwrap();
                let receiver = rt::spawn(move || {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 64];
                    for _ in 0..10 {
                        let n = sink
                            .recv(&mut buf)
                            .expect("a queued datagram (lost wake-up?)");
                        got.push(buf[..n].to_vec());
                    }
                    got
                });
                // The receiver parks on the empty socket; then the burst.
                rt::yield_now();
                let source = UdpSocket::bind("127.0.0.1:0").unwrap();
                for i in 0..10u8 {
                    source.send_to(&[i; 3], to).unwrap();
                }
                receiver.join().unwrap()
            });
            let want: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 3]).collect();
            assert_eq!(got, want);
        },
    );
}

#[test]
fn udp_task_and_std_socket_exchange_datagrams_both_ways() {
    watchdog(
        30,
        "udp_task_and_std_socket_exchange_datagrams_both_ways",
        || {
            let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let peer_addr = peer.local_addr().unwrap();
            // The std side: answers each datagram with its reverse.
            let std_side = thread::spawn(move || {
                let mut buf = [0u8; 64];
                for _ in 0..3 {
                    let (n, from) = peer.recv_from(&mut buf).expect("std recv");
                    let mut back = buf[..n].to_vec();
                    back.reverse();
                    peer.send_to(&back, from).unwrap();
                }
            });
            let rt = one_worker();
            let (local, froms, answers) = rt.block_on(move || {
                let sock = udp();
                let mut froms = Vec::new();
                let mut answers = Vec::new();
                for word in ["abc", "hello", "jmpco"] {
                    assert_eq!(
                        sock.send_to(word.as_bytes(), peer_addr).unwrap(),
                        word.len()
                    );
                    let mut buf = [0u8; 64];
                    let (n, from) = sock.recv_from(&mut buf).expect("answer");
                    froms.push(from);
                    answers.push(String::from_utf8(buf[..n].to_vec()).unwrap());
                }
                (sock.local_addr().unwrap(), froms, answers)
            });
            std_side.join().unwrap();
            assert!(local.ip().is_loopback() && local.port() != 0);
            assert_eq!(froms, vec![peer_addr; 3]);
            assert_eq!(answers, ["cba", "olleh", "ocpmj"]);
        },
    );
}

#[test]
fn udp_connected_sockets_send_and_recv_only_with_their_peer() {
    watchdog(
        30,
        "udp_connected_sockets_send_and_recv_only_with_their_peer",
        || {
            let rt = one_worker();
            rt.block_on(|| {
                let a = udp();
                let b = udp();
                let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
                assert_eq!(
                    a.peer_addr().unwrap_err().kind(),
                    io::ErrorKind::NotConnected
                );
                a.connect(b_addr).unwrap();
                b.connect(a_addr).unwrap();
                assert_eq!(a.peer_addr().unwrap(), b_addr);
                assert_eq!(b.peer_addr().unwrap(), a_addr);

                // A stranger's datagram is filtered by the kernel; the peer's
                // comes through.
                let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                stranger.send_to(b"stray", b_addr).unwrap();
                let replier = rt::spawn(move || {
                    let mut buf = [0u8; 16];
                    let n = b.recv(&mut buf).expect("b recv");
                    assert_eq!(&buf[..n], b"ping");
                    b.send(b"pong").unwrap();
                });
                assert_eq!(a.send(b"ping").unwrap(), 4);
                let mut buf = [0u8; 16];
                let n = a.recv(&mut buf).expect("a recv");
                assert_eq!(&buf[..n], b"pong");
                replier.join().unwrap();
            });
        },
    );
}

#[test]
fn udp_peek_from_leaves_the_datagram_for_the_next_receive() {
    watchdog(
        30,
        "udp_peek_from_leaves_the_datagram_for_the_next_receive",
        || {
            let rt = one_worker();
            rt.block_on(|| {
                let a = udp();
                let b = udp();
                let b_addr = b.local_addr().unwrap();
                let sender = rt::spawn(move || {
                    rt::sleep(Duration::from_millis(20));
                    a.send_to(b"first", b_addr).unwrap();
                    a.send_to(b"second", b_addr).unwrap();
                    a.local_addr().unwrap()
                });
                let mut buf = [0u8; 16];
                // Parks until "first" arrives, and leaves it queued.
                let (n, from) = b.peek_from(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"first");
                let a_addr = sender.join().unwrap();
                assert_eq!(from, a_addr);
                let (n, _) = b.peek_from(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"first");
                let (n, _) = b.recv_from(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"first");
                let (n, _) = b.recv_from(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"second");
            });
        },
    );
}

/// A receive that nothing answers, with a 100 ms timeout, in a task and
/// on a plain thread.
fn assert_recv_times_out(sock: &UdpSocket) {
    sock.set_read_timeout(Some(Duration::from_millis(100)));
    assert_eq!(sock.read_timeout(), Some(Duration::from_millis(100)));
    let t0 = Instant::now();
    let mut buf = [0u8; 16];
    let e = sock.recv_from(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
    let waited = t0.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

#[test]
fn udp_read_timeout_fires_timed_out_in_a_task_and_on_a_thread() {
    watchdog(
        30,
        "udp_read_timeout_fires_timed_out_in_a_task_and_on_a_thread",
        || {
            assert_recv_times_out(&udp());
            let rt = one_worker();
            rt.block_on(|| {
                let sock = udp();
                // The task is parked, not the worker: a neighbour, ready
                // before the receive began, runs while it waits.
                let ran = Rc::new(Cell::new(false));
                let r = ran.clone();
                let neighbour = rt::spawn(move || r.set(true));
                assert_recv_times_out(&sock);
                assert!(ran.get(), "the worker ran its other task meanwhile");
                neighbour.join().unwrap();
            });
        },
    );
}

#[test]
fn udp_read_timeout_of_duration_max_waits_for_the_datagram() {
    watchdog(
        30,
        "udp_read_timeout_of_duration_max_waits_for_the_datagram",
        || {
            let rt = one_worker();
            rt.block_on(|| {
                let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                sock.set_read_timeout(Some(Duration::MAX));
                sock.set_write_timeout(Some(Duration::MAX));
                assert_eq!(sock.write_timeout(), Some(Duration::MAX));
                let to = sock.local_addr().unwrap();
                rt::spawn(move || {
                    rt::sleep(Duration::from_millis(200));
                    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                    s.send_to(b"late", to).unwrap();
                });
                let t0 = Instant::now();
                let mut buf = [0u8; 16];
                let (n, _) = sock.recv_from(&mut buf).expect("no timeout");
                assert_eq!(&buf[..n], b"late");
                assert!(t0.elapsed() >= Duration::from_millis(150));
            });
        },
    );
}

#[test]
fn udp_socket_from_std_and_back_keeps_working() {
    watchdog(30, "udp_socket_from_std_and_back_keeps_working", || {
        let std_sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = std_sock.as_raw_fd();
        let sock = UdpSocket::from_std(std_sock).unwrap();
        assert_eq!(sock.as_raw_fd(), fd);
        let me = sock.local_addr().unwrap();
        sock.send_to(b"self", me).unwrap();
        let mut buf = [0u8; 8];
        let (n, from) = sock.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"self"[..], me));
        sock.set_recv_buffer_size(64 * 1024).unwrap();
        assert!(sock.recv_buffer_size().unwrap() >= 64 * 1024);
        let back = sock.into_std().unwrap();
        back.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        back.send_to(b"std", me).unwrap();
        let (n, _) = back.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"std");
    });
}

#[test]
fn tcp_buffer_sizes_are_set_and_read_back() {
    watchdog(30, "tcp_buffer_sizes_are_set_and_read_back", || {
        let l = StdListener::bind("127.0.0.1:0").unwrap();
        let s = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        // The kernel doubles what it is given (within its limits).
        s.set_send_buffer_size(24 * 1024).unwrap();
        let snd = s.send_buffer_size().unwrap();
        assert!((24 * 1024..=48 * 1024).contains(&snd), "{snd}");
        s.set_recv_buffer_size(8 * 1024).unwrap();
        let rcv = s.recv_buffer_size().unwrap();
        assert!((8 * 1024..=16 * 1024).contains(&rcv), "{rcv}");
    });
}

// ---- Unix ---------------------------------------------------------------

/// A socket path no other test (or run) uses; removed on drop.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("jmpco-{tag}-{}-{n}-{nanos}.sock", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);
        TempPath(path)
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Echoes every byte until EOF.
fn unix_echo(mut s: UnixStream) {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

#[test]
fn unix_listener_accepts_task_and_thread_clients_and_echoes() {
    watchdog(
        30,
        "unix_listener_accepts_task_and_thread_clients_and_echoes",
        || {
            let path = TempPath::new("echo");
            let rt = one_worker();
            let p = path.0.clone();
            let (addrs, local) = rt.block_on(move || {
                let listener = UnixListener::bind(&p).expect("bind");
                let local = listener.local_addr().unwrap();
                let acceptor = rt::spawn(move || {
                    let mut addrs = Vec::new();
                    for _ in 0..4 {
                        let (s, addr) = listener.accept().expect("accept");
                        addrs.push(addr.is_unnamed());
                        rt::spawn(move || unix_echo(s));
                    }
                    addrs
                });
                // Three clients in tasks, one on a plain thread.
                let thread_path = p.clone();
                let thread_client = thread::spawn(move || {
                    let mut s = UnixStream::connect(&thread_path).expect("thread connect");
                    s.set_read_timeout(Some(Duration::from_secs(5)));
                    s.write_all(b"from a thread").unwrap();
                    let mut back = [0u8; 13];
                    s.read_exact(&mut back).unwrap();
                    assert_eq!(&back, b"from a thread");
                });
                let clients: Vec<_> = (0..3)
                    .map(|i| {
                        let p = p.clone();
                        rt::spawn(move || {
                            let mut s = UnixStream::connect(&p).expect("task connect");
                            s.set_read_timeout(Some(Duration::from_secs(5)));
                            assert_eq!(s.peer_addr().unwrap().as_pathname(), Some(p.as_path()));
                            let msg = format!("client {i} says hi").repeat(100);
                            s.write_all(msg.as_bytes()).unwrap();
                            let mut back = vec![0u8; msg.len()];
                            s.read_exact(&mut back).unwrap();
                            assert_eq!(back, msg.as_bytes());
                        })
                    })
                    .collect();
                for c in clients {
                    c.join().unwrap();
                }
                let addrs = acceptor.join().unwrap();
                rt::unblock(move || thread_client.join().unwrap());
                (addrs, local)
            });
            assert_eq!(addrs, [true; 4], "unbound clients have unnamed addresses");
            assert_eq!(local.as_pathname(), Some(path.0.as_path()));
        },
    );
}

/// `UnixStream::connect_timeout` gives up with `TimedOut` once the
/// listener's backlog has stayed full for its timeout (zero: one try), and
/// connects as `connect` does when there is room (`Duration::MAX`: no
/// limit).
#[test]
fn unix_connect_timeout_gives_up_while_the_backlog_stays_full() {
    watchdog(30, "unix_connect_timeout", || {
        let path = TempPath::new("backlog-timeout");
        let rt = one_worker();
        let p = path.0.clone();
        let (zero, short, took) = rt.block_on(move || {
            let listener = UnixListener::bind(&p).unwrap();
            // Backlog 0: one pending connection fills the queue (Linux).
            // SAFETY: listen takes plain integers; the fd is the listener's.
            assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
            let first = UnixStream::connect_timeout(&p, Duration::MAX).expect("room for one");
            let zero = UnixStream::connect_timeout(&p, Duration::ZERO).map(drop);
            let t0 = Instant::now();
            let short = UnixStream::connect_timeout(&p, Duration::from_millis(60)).map(drop);
            let took = t0.elapsed();
            drop(listener.accept().unwrap());
            drop(first);
            (zero, short, took)
        });
        assert_eq!(zero.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert_eq!(short.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert!(took >= Duration::from_millis(60), "gave up early: {took:?}");
        assert!(took < Duration::from_secs(5), "{took:?}");
    });
}

/// With the listener's backlog full, a Unix connect gets `EAGAIN`: it
/// must wait (parking the task) and try again, and succeed once the
/// listener has accepted, while the worker runs its other tasks.
#[test]
fn unix_connect_waits_while_the_backlog_is_full() {
    watchdog(30, "unix_connect_waits_while_the_backlog_is_full", || {
        let path = TempPath::new("backlog");
        let rt = one_worker();
        let p = path.0.clone();
        let waited = rt.block_on(move || {
            let listener = UnixListener::bind(&p).unwrap();
            // Backlog 0: one pending connection fills the queue (Linux).
            // SAFETY: listen takes plain integers; the fd is the listener's.
            assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
            let first = UnixStream::connect(&p).expect("the first connect fits");
            let accepted = Rc::new(Cell::new(false));
            let flag = accepted.clone();
            let acceptor = rt::spawn(move || {
                rt::sleep(Duration::from_millis(150));
                flag.set(true);
                let (a, _) = listener.accept().unwrap();
                let (b, _) = listener.accept().unwrap();
                (a, b)
            });
            let t0 = Instant::now();
            let mut second = UnixStream::connect(&p).expect("the second connect, later");
            let waited = t0.elapsed();
            assert!(accepted.get(), "connected before the backlog had room");
            let (_a, mut b) = acceptor.join().unwrap();
            second.write_all(b"x").unwrap();
            let mut got = [0u8; 1];
            b.set_read_timeout(Some(Duration::from_secs(5)));
            b.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"x");
            drop(first);
            waited
        });
        assert!(waited >= Duration::from_millis(100), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    });
}

#[test]
fn unix_connect_to_nothing_fails_at_once() {
    watchdog(30, "unix_connect_to_nothing_fails_at_once", || {
        let path = TempPath::new("missing");
        let e = UnixStream::connect(&path.0).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
        // A file that nobody listens on: refused.
        let listener = std::os::unix::net::UnixListener::bind(&path.0).unwrap();
        drop(listener);
        let e = UnixStream::connect(&path.0).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
        let e = UnixStream::connect("/tmp/a\0b").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    });
}

// ---- names --------------------------------------------------------------

/// The tests that use the blocking pool run one at a time: some of them
/// fill it on purpose.
fn pool_tests() -> MutexGuard<'static, ()> {
    static POOL: Mutex<()> = Mutex::new(());
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keeps every blocking-pool thread busy until opened (or dropped, or
/// 10 s have passed, so a test that would deadlock fails instead): a job
/// queued meanwhile, such as a name lookup, cannot run.
struct PoolGate {
    state: Arc<(Mutex<bool>, Condvar)>,
}

impl PoolGate {
    fn close() -> PoolGate {
        let state = Arc::new((Mutex::new(false), Condvar::new()));
        for _ in 0..rt::MAX_THREADS {
            let state = state.clone();
            // The pool takes jobs first come first served and runs at most
            // MAX_THREADS at once: these take every thread it can have.
            drop(rt::spawn_blocking(move || {
                let (open, cv) = &*state;
                let guard = open.lock().unwrap();
                let _ = cv
                    .wait_timeout_while(guard, Duration::from_secs(10), |open| !*open)
                    .unwrap();
            }));
        }
        PoolGate { state }
    }

    /// Something that opens the gate from anywhere.
    fn opener(&self) -> impl FnOnce() + Send + 'static {
        let state = self.state.clone();
        move || {
            *state.0.lock().unwrap() = true;
            state.1.notify_all();
        }
    }
}

impl Drop for PoolGate {
    fn drop(&mut self) {
        (self.opener())();
    }
}

/// A loopback listener for the resolved connects, and its port.
fn listener() -> (StdListener, u16) {
    let l = StdListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn connect_to_localhost_by_name_from_a_task() {
    watchdog(30, "connect_to_localhost_by_name_from_a_task", || {
        let _pool = pool_tests();
        let (l, port) = listener();
        let server = thread::spawn(move || {
            for _ in 0..3 {
                let (mut s, _) = l.accept().unwrap();
                s.write_all(b"hi").unwrap();
            }
        });
        let rt = one_worker();
        let peers = rt.block_on(move || {
            let by_text = TcpStream::connect(format!("localhost:{port}")).expect("\"host:port\"");
            let by_pair = TcpStream::connect(("localhost", port)).expect("(host, port)");
            let by_string = TcpStream::connect((String::from("localhost"), port)).expect("String");
            let mut peers = Vec::new();
            for mut s in [by_text, by_pair, by_string] {
                s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut hi = [0u8; 2];
                s.read_exact(&mut hi).unwrap();
                assert_eq!(&hi, b"hi");
                peers.push(s.peer_addr().unwrap());
            }
            peers
        });
        server.join().unwrap();
        let want = SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(peers, [want; 3]);
    });
}

#[test]
fn connect_with_timeout_to_localhost_succeeds_within_it_and_with_duration_max() {
    watchdog(
        30,
        "connect_with_timeout_to_localhost_succeeds_within_it_and_with_duration_max",
        || {
            let _pool = pool_tests();
            let (l, port) = listener();
            let rt = one_worker();
            let peers = rt.block_on(move || {
                let a = TcpStream::connect_with_timeout(
                    format!("localhost:{port}"),
                    Duration::from_secs(10),
                )
                .expect("10 s");
                let b = TcpStream::connect_with_timeout(("localhost", port), Duration::MAX)
                    .expect("no limit");
                [a.peer_addr().unwrap(), b.peer_addr().unwrap()]
            });
            let want = SocketAddr::from(([127, 0, 0, 1], port));
            assert_eq!(peers, [want; 2]);
            drop(l);
        },
    );
}

#[test]
fn lookup_host_finds_loopback_in_a_task_and_on_a_thread() {
    watchdog(
        30,
        "lookup_host_finds_loopback_in_a_task_and_on_a_thread",
        || {
            let _pool = pool_tests();
            let on_thread = rt::lookup_host("localhost:80").expect("on a thread");
            assert!(!on_thread.is_empty());
            assert!(on_thread
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 80));
            let rt = one_worker();
            let in_task = rt.block_on(|| rt::lookup_host(("localhost", 80)).expect("in a task"));
            assert_eq!(in_task, on_thread);
            let e = rt::lookup_host("localhost").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "no port: {e}");
            let literal = rt.block_on(|| rt::lookup_host("[::1]:9").unwrap());
            assert_eq!(literal, ["[::1]:9".parse::<SocketAddr>().unwrap()]);
        },
    );
}

#[test]
fn udp_connect_to_localhost_by_name() {
    watchdog(30, "udp_connect_to_localhost_by_name", || {
        let _pool = pool_tests();
        let rt = one_worker();
        rt.block_on(|| {
            let server = udp();
            let port = server.local_addr().unwrap().port();
            let client = udp();
            client
                .connect(format!("localhost:{port}"))
                .expect("connect by name");
            assert_eq!(
                client.peer_addr().unwrap(),
                SocketAddr::from(([127, 0, 0, 1], port))
            );
            client.send(b"named").unwrap();
            let mut buf = [0u8; 8];
            let (n, from) = server.recv_from(&mut buf).unwrap();
            assert_eq!(
                (&buf[..n], from),
                (&b"named"[..], client.local_addr().unwrap())
            );
        });
    });
}

/// With every pool thread busy, a lookup cannot finish until the pool
/// frees one; the resolving task must park meanwhile, so the only thing
/// that frees the pool, another task on the same one-worker runtime, gets
/// to run. Resolving inline (on the worker) would connect before that task
/// ran; waiting by blocking the worker's thread would stall until the
/// gate's 10 s fallback, with the task never run.
#[test]
fn a_task_resolving_a_name_leaves_its_worker_to_other_tasks() {
    watchdog(
        60,
        "a_task_resolving_a_name_leaves_its_worker_to_other_tasks",
        || {
            let _pool = pool_tests();
            let (l, port) = listener();
            let gate = PoolGate::close();
            let open = gate.opener();
            let rt = one_worker();
            let (ticks_before, ticks_after, elapsed) = rt.block_on(move || {
                let ticks = Rc::new(Cell::new(0u32));
                let t = ticks.clone();
                let ticker = rt::spawn(move || {
                    for _ in 0..5 {
                        t.set(t.get() + 1);
                        rt::yield_now();
                    }
                    open();
                });
                let before = ticks.get();
                let t0 = Instant::now();
                let s = TcpStream::connect(format!("localhost:{port}")).expect("connect by name");
                let elapsed = t0.elapsed();
                let after = ticks.get();
                assert_eq!(s.peer_addr().unwrap().port(), port);
                ticker.join().unwrap();
                (before, after, elapsed)
            });
            drop(gate);
            drop(l);
            assert_eq!(ticks_before, 0);
            assert_eq!(ticks_after, 5, "the other task ran while the name resolved");
            assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        },
    );
}

/// The timeout of `connect_with_timeout` covers the lookup: with the pool
/// full, the lookup cannot run, and the connect gives up on time.
#[test]
fn connect_with_timeout_counts_the_time_spent_resolving() {
    watchdog(
        60,
        "connect_with_timeout_counts_the_time_spent_resolving",
        || {
            let _pool = pool_tests();
            let (l, port) = listener();
            let gate = PoolGate::close();
            let rt = one_worker();
            let (e, waited) = rt.block_on(move || {
                let t0 = Instant::now();
                let e = TcpStream::connect_with_timeout(
                    format!("localhost:{port}"),
                    Duration::from_millis(200),
                )
                .expect_err("the lookup cannot finish");
                (e, t0.elapsed())
            });
            drop(gate);
            drop(l);
            assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
            assert!(waited >= Duration::from_millis(200), "{waited:?}");
            assert!(waited < Duration::from_secs(5), "{waited:?}");
        },
    );
}

/// Addresses and IP literals need no lookup: they connect with the pool
/// full.
#[test]
fn ip_literals_and_addresses_connect_without_the_pool() {
    watchdog(
        60,
        "ip_literals_and_addresses_connect_without_the_pool",
        || {
            let _pool = pool_tests();
            let (l, port) = listener();
            let addr = l.local_addr().unwrap();
            let gate = PoolGate::close();
            let rt = one_worker();
            let waited = rt.block_on(move || {
                let t0 = Instant::now();
                TcpStream::connect(format!("127.0.0.1:{port}")).expect("literal text");
                TcpStream::connect(("127.0.0.1", port)).expect("literal pair");
                TcpStream::connect(addr).expect("SocketAddr");
                TcpStream::connect_with_timeout(&[addr][..], Duration::from_secs(5))
                    .expect("slice");
                UdpSocket::bind("127.0.0.1:0").expect("udp literal");
                t0.elapsed()
            });
            drop(gate);
            drop(l);
            assert!(waited < Duration::from_secs(5), "{waited:?}");
        },
    );
}
