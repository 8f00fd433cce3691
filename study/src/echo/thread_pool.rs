//! `thread-pool`: the notes' epoll + thread pool, made correct. One
//! dispatcher thread waits on epoll and hands each ready connection to a
//! pool of workers through a queue; a worker reads what has arrived
//! (non-blocking), answers every complete request, and re-arms the fd.
//!
//! The notes' hazard: level-triggered epoll reports an fd again, in its next
//! round, while a worker still holds it, so two workers own one connection
//! (and one may read a descriptor the other has closed). Registering with
//! `EPOLLONESHOT` closes it: the fd is reported once and stays silent until
//! its worker re-arms it with `EPOLL_CTL_MOD`. The server counts how often
//! the hazard would have struck — a read that found a new request after the
//! worker had already answered one during the same hold (`reready`), out of
//! `dispatches` hand-offs — and reports both when stopped.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use anyhow::Result;

use crate::server::{Running, ServeConfig, Server, Started, Stats, StopSignal};
use crate::sys::epoll::{self, Epoll, Events, EPOLLIN, EPOLLONESHOT};

/// Epoll dispatcher + worker pool.
pub struct ThreadPool;

const LISTENER: u64 = u64::MAX;
const ARMED: libc::c_int = EPOLLIN | EPOLLONESHOT;

/// A connection and its partly read request.
struct Conn {
    stream: TcpStream,
    pending: Mutex<(Vec<u8>, usize)>,
}

/// What the dispatcher and the workers share.
struct Shared {
    epoll: Epoll,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    queue: Mutex<(VecDeque<u64>, bool)>, // (ready tokens, closed)
    ready: Condvar,
    size: usize,
    dispatches: AtomicU64,
    reready: AtomicU64,
}

impl Server for ThreadPool {
    fn name(&self) -> &'static str {
        "thread-pool"
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = StopSignal::new(&listener)?;
        let shared = Arc::new(Shared {
            epoll: Epoll::new()?,
            conns: Mutex::new(HashMap::new()),
            queue: Mutex::new((VecDeque::new(), false)),
            ready: Condvar::new(),
            size: config.size,
            dispatches: AtomicU64::new(0),
            reready: AtomicU64::new(0),
        });
        let workers = (0..config.threads.max(1))
            .map(|_| {
                let shared = shared.clone();
                std::thread::spawn(move || work(&shared))
            })
            .collect();
        let (signal, s) = (stop.clone(), shared.clone());
        let dispatcher = std::thread::spawn(move || dispatch(listener, &s, &signal));
        Ok(Started {
            addr,
            running: Box::new(Handle {
                stop,
                shared,
                dispatcher,
                workers,
            }),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn dispatch(listener: TcpListener, shared: &Shared, stop: &StopSignal) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    shared.epoll.add(listener.as_raw_fd(), EPOLLIN, LISTENER)?;
    let mut events = Events::with_capacity(256);
    let mut next = 0u64;
    loop {
        shared.epoll.wait(&mut events, None)?;
        for (token, _) in events.iter() {
            if token != LISTENER {
                shared.dispatches.fetch_add(1, Ordering::Relaxed);
                lock(&shared.queue).0.push_back(token);
                shared.ready.notify_one();
                continue;
            }
            loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(true)?;
                        stream.set_nodelay(true)?;
                        let conn = Arc::new(Conn {
                            stream,
                            pending: Mutex::new((vec![0; shared.size], 0)),
                        });
                        lock(&shared.conns).insert(next, conn.clone());
                        shared.epoll.add(conn.stream.as_raw_fd(), ARMED, next)?;
                        next += 1;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
            if stop.is_set() {
                return Ok(());
            }
        }
    }
}

fn work(shared: &Shared) {
    loop {
        let token = {
            let mut queue = lock(&shared.queue);
            loop {
                if let Some(token) = queue.0.pop_front() {
                    break token;
                }
                if queue.1 {
                    return;
                }
                queue = shared.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some(conn) = lock(&shared.conns).get(&token).cloned() else {
            continue;
        };
        let fd = conn.stream.as_raw_fd();
        match serve_ready(shared, &conn) {
            // Only now may epoll report it again.
            Ok(()) => {
                let _ = shared.epoll.modify(fd, ARMED, token);
            }
            Err(_) => {
                let _ = shared.epoll.delete(fd);
                lock(&shared.conns).remove(&token);
            }
        }
    }
}

/// Reads until the socket is drained, answering each complete request.
/// An error (including the client closing) ends the connection.
fn serve_ready(shared: &Shared, conn: &Conn) -> std::io::Result<()> {
    let mut pending = lock(&conn.pending);
    let (buf, filled) = &mut *pending;
    let mut answered = 0;
    loop {
        match (&conn.stream).read(&mut buf[*filled..]) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                if answered > 0 && *filled == 0 {
                    // A new request arrived while this worker held the fd.
                    shared.reready.fetch_add(1, Ordering::Relaxed);
                }
                *filled += n;
                if *filled == buf.len() {
                    write_all(&conn.stream, buf)?;
                    *filled = 0;
                    answered += 1;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// `write_all` on a non-blocking socket: waits for room when it is full.
fn write_all(mut stream: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        match stream.write(data) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                epoll::wait_writable(stream.as_raw_fd())?
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

struct Handle {
    stop: StopSignal,
    shared: Arc<Shared>,
    dispatcher: JoinHandle<std::io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl Running for Handle {
    fn stop(self: Box<Self>) -> Stats {
        self.stop.trigger();
        let _ = self.dispatcher.join();
        lock(&self.shared.queue).1 = true;
        self.shared.ready.notify_all();
        for w in self.workers {
            let _ = w.join();
        }
        let mut stats = Stats::new();
        stats.insert(
            "dispatches".into(),
            self.shared.dispatches.load(Ordering::Relaxed),
        );
        stats.insert(
            "reready".into(),
            self.shared.reready.load(Ordering::Relaxed),
        );
        stats
    }
}
