//! The load client every echo contestant is measured with: closed-loop
//! ping-pong, each connection keeping one `size`-byte request in flight,
//! on `threads` epoll threads pinned to the client's CPUs.
//!
//! A window is a warm-up (requests answered, not recorded), the measured
//! part (every answer recorded in an HDR histogram of latencies, from the
//! first byte written to the last byte read), and a drain (no new requests;
//! the ones in flight complete) that leaves every connection idle for the
//! next window. Each answer is checked byte for byte against its request
//! (which carries the connection and sequence numbers): a wrong echo fails
//! the run. The client reports its own CPU time, so a reader can see that
//! it was not the bottleneck.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use hdrhistogram::Histogram;

use crate::sys::affinity;
use crate::sys::epoll::{Epoll, Events, EPOLLET, EPOLLIN, EPOLLOUT};
use crate::sys::procfs;

/// What each connection is watched for, edge-triggered.
const READ: libc::c_int = EPOLLIN | EPOLLET;

/// How long the drain may take before the run fails.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// One window of load.
#[derive(Clone, Debug)]
pub struct Load {
    /// Bytes per request.
    pub size: usize,
    /// Unrecorded lead-in.
    pub warmup: Duration,
    /// The measured part.
    pub duration: Duration,
    /// Client threads (connections are dealt round-robin).
    pub threads: usize,
    /// CPUs the client threads are pinned to (empty: not pinned).
    pub cpus: Vec<usize>,
}

/// What a window measured.
#[derive(Debug)]
pub struct Report {
    /// Answers received in the measured part.
    pub requests: u64,
    /// Answers received in the whole window (warm-up, measured part and
    /// drain): what the server did while the window lasted.
    pub answered: u64,
    /// The measured part's actual length.
    pub elapsed: Duration,
    /// Latencies in nanoseconds.
    pub latency_ns: Histogram<u64>,
    /// CPU time the client threads used in the measured part.
    pub cpu: Duration,
}

impl Report {
    /// Answers per second.
    pub fn req_per_s(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Latency at `quantile` (0..=1) in microseconds.
    pub fn latency_us(&self, quantile: f64) -> f64 {
        self.latency_ns.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// Client CPU as a percentage of one core.
    pub fn cpu_pct(&self) -> f64 {
        100.0 * self.cpu.as_secs_f64() / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A latency histogram: 1 ns to 100 s, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

/// Opens `count` connections to `addr`, one after another (so a listen
/// backlog of any size suffices), with `TCP_NODELAY`.
pub fn connect(addr: SocketAddr, count: usize) -> Result<Vec<TcpStream>> {
    (0..count)
        .map(|i| {
            let s =
                TcpStream::connect(addr).with_context(|| format!("connection {i} to {addr}"))?;
            s.set_nodelay(true)?;
            Ok(s)
        })
        .collect()
}

/// Runs one window over `conns` (all idle) and returns them idle again.
pub fn run(conns: Vec<TcpStream>, load: &Load) -> Result<(Vec<TcpStream>, Report)> {
    let threads = load.threads.clamp(1, conns.len().max(1));
    let mut shares: Vec<Vec<(usize, TcpStream)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, c) in conns.into_iter().enumerate() {
        shares[i % threads].push((i, c));
    }
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = shares
        .into_iter()
        .map(|share| {
            let (load, start) = (load.clone(), start.clone());
            std::thread::spawn(move || {
                affinity::pin_current_thread(&load.cpus)?;
                start.wait();
                drive(share, &load)
            })
        })
        .collect();
    let mut conns = Vec::new();
    let mut total = Report {
        requests: 0,
        answered: 0,
        elapsed: Duration::ZERO,
        latency_ns: new_histogram(),
        cpu: Duration::ZERO,
    };
    let mut first_error = None;
    for h in handles {
        match h.join().map_err(|_| anyhow!("a client thread panicked"))? {
            Ok((share, report)) => {
                conns.extend(share);
                total.requests += report.requests;
                total.answered += report.answered;
                total.elapsed = total.elapsed.max(report.elapsed);
                total.cpu += report.cpu;
                total.latency_ns.add(&report.latency_ns)?;
            }
            Err(e) => first_error = first_error.or(Some(e)),
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    conns.sort_by_key(|(i, _)| *i);
    Ok((conns.into_iter().map(|(_, c)| c).collect(), total))
}

/// One connection's state: its request, what was written and read of it.
struct Conn {
    id: usize,
    token: u64,
    /// Whether epoll also watches for room to write (only after a write
    /// would have blocked: otherwise every ACK would wake the client).
    watching_out: bool,
    stream: TcpStream,
    seq: u64,
    request: Vec<u8>,
    response: Vec<u8>,
    written: usize,
    read: usize,
    sent_at: Instant,
    busy: bool,
}

/// Fills `buf` with the request `seq` of connection `id`: both numbers in
/// the first 16 bytes, then a pattern that depends on them.
pub fn fill_request(buf: &mut [u8], id: usize, seq: u64) {
    let head = [(id as u64).to_le_bytes(), seq.to_le_bytes()].concat();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = match head.get(i) {
            Some(&h) => h,
            None => (i as u64).wrapping_mul(31).wrapping_add(seq ^ id as u64) as u8,
        };
    }
}

impl Conn {
    fn issue(&mut self) {
        self.seq += 1;
        fill_request(&mut self.request, self.id, self.seq);
        self.written = 0;
        self.read = 0;
        self.sent_at = Instant::now();
        self.busy = true;
    }

    /// Writes and reads until the socket would block; issues the next
    /// request after each answer while `issuing`. Returns the latencies of
    /// the answers completed.
    fn progress(&mut self, epoll: &Epoll, issuing: bool, done: &mut Vec<Duration>) -> Result<()> {
        while self.busy {
            if self.written < self.request.len() {
                match self.stream.write(&self.request[self.written..]) {
                    Ok(n) => {
                        self.written += n;
                        if self.written == self.request.len() && self.watching_out {
                            epoll.modify(self.stream.as_raw_fd(), READ, self.token)?;
                            self.watching_out = false;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if !self.watching_out {
                            epoll.modify(self.stream.as_raw_fd(), READ | EPOLLOUT, self.token)?;
                            self.watching_out = true;
                        }
                        return Ok(());
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => bail!("connection {}: write: {e}", self.id),
                }
                continue;
            }
            match self.stream.read(&mut self.response[self.read..]) {
                Ok(0) => bail!("connection {}: the server closed it", self.id),
                Ok(n) => self.read += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => bail!("connection {}: read: {e}", self.id),
            }
            if self.read == self.response.len() {
                if self.response != self.request {
                    bail!(
                        "connection {}: request {} was not echoed back",
                        self.id,
                        self.seq
                    );
                }
                done.push(self.sent_at.elapsed());
                self.busy = false;
                if issuing {
                    self.issue();
                }
            }
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Warmup,
    Measure,
    Drain,
}

/// One client thread's window over its share of the connections.
fn drive(share: Vec<(usize, TcpStream)>, load: &Load) -> Result<(Vec<(usize, TcpStream)>, Report)> {
    let epoll = Epoll::new()?;
    let mut conns = Vec::with_capacity(share.len());
    for (token, (id, stream)) in share.into_iter().enumerate() {
        stream.set_nonblocking(true)?;
        epoll.add(stream.as_raw_fd(), READ, token as u64)?;
        conns.push(Conn {
            id,
            token: token as u64,
            watching_out: false,
            stream,
            seq: 0,
            request: vec![0; load.size],
            response: vec![0; load.size],
            written: 0,
            read: 0,
            sent_at: Instant::now(),
            busy: false,
        });
    }
    let mut latency = new_histogram();
    let mut done = Vec::new();
    let begin = Instant::now();
    let measure_at = begin + load.warmup;
    let drain_at = measure_at + load.duration;
    let (mut phase, mut requests, mut answered) = (Phase::Warmup, 0u64, 0u64);
    let (mut cpu_start, mut cpu) = (procfs::thread_cpu(), Duration::ZERO);
    let mut measured_from = begin;
    let mut elapsed = Duration::ZERO;
    for c in &mut conns {
        c.issue();
        c.progress(&epoll, true, &mut done)?;
    }
    let mut events = Events::with_capacity(1024);
    loop {
        let now = Instant::now();
        if phase == Phase::Warmup && now >= measure_at {
            phase = Phase::Measure;
            done.clear();
            measured_from = now;
            cpu_start = procfs::thread_cpu();
        }
        if phase == Phase::Measure && now >= drain_at {
            phase = Phase::Drain;
            elapsed = now - measured_from;
            cpu = procfs::thread_cpu() - cpu_start;
        }
        if phase == Phase::Drain {
            if conns.iter().all(|c| !c.busy) {
                break;
            }
            if now >= drain_at + DRAIN_LIMIT {
                bail!("answers still missing {DRAIN_LIMIT:?} after the window closed");
            }
        }
        let next = match phase {
            Phase::Warmup => measure_at,
            Phase::Measure => drain_at,
            Phase::Drain => drain_at + DRAIN_LIMIT,
        };
        let timeout = next
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        epoll.wait(&mut events, Some(timeout))?;
        for (token, _) in events.iter() {
            conns[token as usize].progress(&epoll, phase != Phase::Drain, &mut done)?;
        }
        answered += done.len() as u64;
        if phase == Phase::Measure {
            for d in done.drain(..) {
                latency.record(d.as_nanos().max(1) as u64)?;
                requests += 1;
            }
        } else {
            done.clear();
        }
    }
    let mut share = Vec::with_capacity(conns.len());
    for c in conns {
        epoll.delete(c.stream.as_raw_fd())?;
        c.stream.set_nonblocking(false)?;
        share.push((c.id, c.stream));
    }
    Ok((
        share,
        Report {
            requests,
            answered,
            elapsed,
            latency_ns: latency,
            cpu,
        },
    ))
}

/// The slow client of the stall scenario: one connection that writes each
/// request one byte at a time, `gap` apart, reads the echo, and repeats
/// until `until`. Returns how many requests it completed.
pub fn dribble(addr: SocketAddr, size: usize, gap: Duration, until: Instant) -> Result<u64> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    // A server that never answers fails the run instead of hanging it.
    stream.set_read_timeout(Some(DRAIN_LIMIT))?;
    let (mut request, mut response) = (vec![0u8; size], vec![0u8; size]);
    let mut completed = 0;
    while Instant::now() < until {
        fill_request(&mut request, usize::MAX, completed);
        for byte in request.chunks(1) {
            if Instant::now() >= until {
                return Ok(completed);
            }
            stream.write_all(byte)?;
            std::thread::sleep(gap);
        }
        stream.read_exact(&mut response)?;
        if response != request {
            bail!("the slow client's request {completed} was not echoed back");
        }
        completed += 1;
    }
    Ok(completed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_differ_by_connection_and_sequence() {
        let (mut a, mut b, mut c) = (vec![0; 64], vec![0; 64], vec![0; 64]);
        fill_request(&mut a, 1, 1);
        fill_request(&mut b, 1, 2);
        fill_request(&mut c, 2, 1);
        assert!(a != b && a != c && b != c);
    }
}
