//! The load of an instruction count: exactly `requests` requests, one at a
//! time, dealt round-robin over `connections` blocking connections (write a
//! request, read its whole answer, check it), each sent only once the
//! server is idle: every thread of its process asleep, seen twice in a row
//! ([`procfs::all_threads_sleeping`]).
//!
//! Why wait for idle: a server's instructions per request depend on
//! whether the request is already there when it reads (the read succeeds)
//! or not (the read would block; the server waits in `epoll_wait`, wakes,
//! reads again). Which of the two happens is a race between the client and
//! the server, so without the wait two runs of the same N differ by up to
//! a third. With it every request takes the second path, the cost of a
//! request reaching an idle server, and the run of 2N requests does twice
//! the work of the run of N whatever the machine's speed or load.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::echo::client::fill_request;
use crate::http::RESPONSE;
use crate::sys::procfs;

/// How long one answer may take before the run fails (a server under
/// callgrind is slow, but not this slow).
const ANSWER_LIMIT: Duration = Duration::from_secs(30);

/// How long the server may stay busy after an answer before the run fails.
const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// What a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// `size`-byte echo ping-pong.
    Echo {
        /// Bytes per request.
        size: usize,
    },
    /// A keep-alive `GET /` answered with [`RESPONSE`].
    Http,
}

/// The request an HTTP connection sends.
pub const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// Opens `connections` connections to `addr` (before the requests, so the
/// count of accepts is the same in both runs of a pair).
pub fn connect(addr: SocketAddr, connections: usize) -> Result<Vec<TcpStream>> {
    (0..connections)
        .map(|i| {
            let s =
                TcpStream::connect(addr).with_context(|| format!("connection {i} to {addr}"))?;
            s.set_nodelay(true)?;
            s.set_read_timeout(Some(ANSWER_LIMIT))?;
            Ok(s)
        })
        .collect()
}

/// Sends `requests` requests over `conns`, round-robin, one at a time,
/// each once process `server` is idle (when given; `None` sends at once),
/// and checks every answer. Returns the requests answered: `requests`, or
/// an error. The connections close when it returns.
pub fn drive(
    mut conns: Vec<TcpStream>,
    protocol: Protocol,
    requests: u64,
    server: Option<u32>,
) -> Result<u64> {
    if conns.is_empty() {
        bail!("no connections to send {requests} requests over");
    }
    let (mut request, mut answer) = match protocol {
        Protocol::Echo { size } => (vec![0u8; size], vec![0u8; size]),
        Protocol::Http => (HTTP_REQUEST.to_vec(), vec![0u8; RESPONSE.len()]),
    };
    let count = conns.len();
    for seq in 0..requests {
        let id = (seq % count as u64) as usize;
        if let Some(pid) = server {
            wait_idle(pid).with_context(|| format!("before request {seq}"))?;
        }
        if let Protocol::Echo { .. } = protocol {
            fill_request(&mut request, id, seq);
        }
        let stream = &mut conns[id];
        stream
            .write_all(&request)
            .with_context(|| format!("connection {id}: request {seq}"))?;
        stream
            .read_exact(&mut answer)
            .with_context(|| format!("connection {id}: the answer to request {seq}"))?;
        let expected = match protocol {
            Protocol::Echo { .. } => &request[..],
            Protocol::Http => RESPONSE,
        };
        if answer != expected {
            bail!("connection {id}: request {seq} got a wrong answer");
        }
    }
    Ok(requests)
}

/// Waits until every thread of `pid` is asleep in two readings in a row.
pub fn wait_idle(pid: u32) -> Result<()> {
    let deadline = Instant::now() + IDLE_LIMIT;
    let asleep = || {
        procfs::all_threads_sleeping(pid)
            .with_context(|| format!("reading the threads of process {pid}"))
    };
    loop {
        if asleep()? {
            std::thread::yield_now();
            if asleep()? {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            bail!("process {pid} was still busy {IDLE_LIMIT:?} after its last answer");
        }
        std::thread::sleep(Duration::from_micros(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-connection server that answers each request with `answer(req)`.
    fn serve_one(
        request_len: usize,
        answer: fn(&[u8]) -> Vec<u8>,
    ) -> (SocketAddr, std::thread::JoinHandle<u64>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut buf = vec![0u8; request_len];
            let mut served = 0;
            while s.read_exact(&mut buf).is_ok() {
                if s.write_all(&answer(&buf)).is_err() {
                    break;
                }
                served += 1;
            }
            served
        });
        (addr, server)
    }

    #[test]
    fn exactly_the_requests_asked_for_are_sent_and_checked() {
        let (addr, server) = serve_one(64, |req| req.to_vec());
        let conns = connect(addr, 1).expect("connected");
        assert_eq!(
            drive(conns, Protocol::Echo { size: 64 }, 25, None).expect("ran"),
            25
        );
        assert_eq!(server.join().expect("server"), 25);
    }

    #[test]
    fn waiting_for_an_idle_server_returns_for_a_sleeping_one_and_fails_for_a_gone_one() {
        let mut sleeper = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep runs");
        let pid = sleeper.id();
        wait_idle(pid).expect("sleep(1) goes idle");
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        let err = wait_idle(pid).unwrap_err();
        assert!(
            format!("{err:#}").contains("reading the threads"),
            "{err:#}"
        );
    }

    #[test]
    fn a_wrong_answer_fails_the_run() {
        let (addr, server) = serve_one(64, |req| {
            let mut bad = req.to_vec();
            bad[20] ^= 1;
            bad
        });
        let conns = connect(addr, 1).expect("connected");
        let err = drive(conns, Protocol::Echo { size: 64 }, 3, None).unwrap_err();
        assert!(format!("{err:#}").contains("wrong answer"), "{err:#}");
        server.join().expect("server");
        // As long as the right answer, so the client reads it all.
        let (addr, server) = serve_one(HTTP_REQUEST.len(), |_| {
            String::from_utf8_lossy(RESPONSE)
                .replace("200 OK", "404 NO")
                .into_bytes()
        });
        let conns = connect(addr, 1).expect("connected");
        let err = drive(conns, Protocol::Http, 1, None).unwrap_err();
        assert!(format!("{err:#}").contains("wrong answer"), "{err:#}");
        server.join().expect("server");
    }

    #[test]
    fn a_server_that_closes_fails_the_run_and_no_connections_is_an_error() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || drop(listener.accept().expect("accept")));
        let conns = connect(addr, 1).expect("connected");
        server.join().expect("server");
        let err = drive(conns, Protocol::Http, 2, None).unwrap_err();
        assert!(format!("{err:#}").contains("connection 0"), "{err:#}");
        let none = drive(Vec::new(), Protocol::Http, 1, None).unwrap_err();
        assert!(format!("{none}").contains("no connections"), "{none}");
    }
}
