//! Helpers for the runtime's network tests: a watchdog, an echo handler,
//! loopback servers, blocking clients with timeouts, fd counting.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use jmpco::rt::{Runtime, TcpStream};
use jmpco::Backend;

/// Aborts the whole test process if `f` has not returned after `secs`:
/// no network test may hang.
pub fn watchdog<T>(secs: u64, name: &str, f: impl FnOnce() -> T) -> T {
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let name = name.to_owned();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) =
            done_rx.recv_timeout(Duration::from_secs(secs))
        {
            eprintln!("watchdog: test `{name}` still running after {secs} s; aborting");
            std::process::abort();
        }
    });
    let out = f();
    drop(done_tx);
    out
}

/// The echo handler: writes back every byte it reads until EOF or error.
pub fn echo(mut stream: TcpStream) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
        }
    }
}

/// A runtime with one worker and the defaults.
pub fn one_worker() -> Runtime {
    Runtime::builder()
        .worker_threads(1)
        .build()
        .expect("runtime")
}

/// Runs `test` once per backend the runtime's features are tested with
/// (sjlj, the default, and asm), each time on a fresh one-worker runtime.
pub fn each_backend(test: impl Fn(Runtime)) {
    for backend in [Backend::Sjlj, Backend::Asm] {
        let rt = Runtime::builder()
            .worker_threads(1)
            .backend(backend)
            .build()
            .expect("runtime");
        test(rt);
    }
}

/// A panic payload's text (`""` if it is not a string).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        String::new()
    }
}

/// A runtime with `workers` threads and `backend`, serving `echo` on a
/// loopback port.
pub fn echo_server(workers: usize, backend: Backend) -> (Runtime, SocketAddr) {
    let rt = Runtime::builder()
        .worker_threads(workers)
        .backend(backend)
        .build()
        .expect("runtime");
    let addr = rt
        .serve("127.0.0.1:0".parse().unwrap(), echo)
        .expect("serve");
    (rt, addr)
}

/// A blocking std client with 10 s read and write timeouts.
pub fn client(addr: SocketAddr) -> StdStream {
    let s = StdStream::connect_timeout(&addr, Duration::from_secs(10)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Sets SO_LINGER {on, 0}, so closing sends a reset.
pub fn linger_zero(s: &StdStream) {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: passes a live linger and its size.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&l).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
}

/// Reads until `n` bytes have arrived (or fails).
pub fn read_n(s: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut out = vec![0u8; n];
    s.read_exact(&mut out)?;
    Ok(out)
}

/// A deterministic pseudo-random pattern (xorshift), so a reordered or
/// duplicated chunk shows.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Raises the soft `RLIMIT_NOFILE` to `want` (or the hard limit); returns
/// the new soft limit.
pub fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = want.min(lim.rlim_max);
    // SAFETY: setrlimit reads one rlimit.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    lim.rlim_cur
}

/// How many fds this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Resident set size of this process, in KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Asserts that every value in `sent` was delivered and none twice
/// (`what` names the case in the failure).
pub fn assert_delivered_once(delivered: &[u32], sent: &[u32], what: &str) {
    let unique: std::collections::HashSet<u32> = delivered.iter().copied().collect();
    assert_eq!(
        unique.len(),
        delivered.len(),
        "{what}: a duplicate in {delivered:?}"
    );
    for v in sent {
        assert!(unique.contains(v), "{what}: {v} was sent but lost");
    }
}
