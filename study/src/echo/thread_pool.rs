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
//!
//! The dispatcher and the workers ([`start`]) are the design; what a worker
//! does with a ready connection is an [`Exchange`]: echo's here, the http
//! hello server's in `crate::http::thread_pool`.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use anyhow::Result;

use crate::server::{Running, ServeConfig, Server, Started, Stats, StopSignal, Then};
use crate::sys::epoll::{self, Epoll, Events, EPOLLIN, EPOLLONESHOT};

/// Epoll dispatcher + worker pool.
pub struct ThreadPool;

const LISTENER: u64 = u64::MAX;
const ARMED: libc::c_int = EPOLLIN | EPOLLONESHOT;

/// What a worker does with a connection the dispatcher handed it.
pub trait Exchange: Send + Sync + 'static {
    /// A connection's state between hand-offs (its partly read request).
    type State: Send + 'static;
    /// The state of a new connection.
    fn open(&self) -> Self::State;
    /// Reads what has arrived on the non-blocking `stream` until it would
    /// block, answering every complete request ([`write_all`]), and says
    /// whether the connection stays; an error closes it too. A read that
    /// finds a new request after an answer in the same call counts one in
    /// `reready`.
    fn serve(
        &self,
        stream: &TcpStream,
        state: &mut Self::State,
        reready: &AtomicU64,
    ) -> std::io::Result<Then>;
}

/// A connection and its state.
struct Conn<S> {
    stream: TcpStream,
    state: Mutex<S>,
}

/// What the dispatcher and the workers share.
struct Shared<E: Exchange> {
    exchange: E,
    epoll: Epoll,
    conns: Mutex<HashMap<u64, Arc<Conn<E::State>>>>,
    queue: Mutex<(VecDeque<u64>, bool)>, // (ready tokens, closed)
    ready: Condvar,
    dispatches: AtomicU64,
    reready: AtomicU64,
}

impl Server for ThreadPool {
    fn name(&self) -> &'static str {
        "thread-pool"
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        start(Echo { size: config.size }, addr, config.threads)
    }
}

/// Echo's exchange: `size`-byte requests, each written back once whole.
struct Echo {
    size: usize,
}

impl Exchange for Echo {
    type State = (Vec<u8>, usize); // (the request, bytes of it read)

    fn open(&self) -> Self::State {
        (vec![0; self.size], 0)
    }

    // Inlined into the worker's loop, as it was before the loop took an
    // exchange: out of line, the call cost echo about 20 instructions a
    // request.
    #[inline]
    fn serve(
        &self,
        stream: &TcpStream,
        (buf, filled): &mut Self::State,
        reready: &AtomicU64,
    ) -> std::io::Result<Then> {
        let mut answered = 0;
        loop {
            match (&*stream).read(&mut buf[*filled..]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    if answered > 0 && *filled == 0 {
                        // A new request arrived while this worker held the fd.
                        reready.fetch_add(1, Ordering::Relaxed);
                    }
                    *filled += n;
                    if *filled == buf.len() {
                        write_all(stream, buf)?;
                        *filled = 0;
                        answered += 1;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Then::Read),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Binds `addr` and serves it with a dispatcher thread and `threads`
/// workers (at least one), each ready connection served by `exchange`.
pub fn start<E: Exchange>(exchange: E, addr: SocketAddr, threads: usize) -> Result<Started> {
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let stop = StopSignal::new(&listener)?;
    let shared = Arc::new(Shared {
        exchange,
        epoll: Epoll::new()?,
        conns: Mutex::new(HashMap::new()),
        queue: Mutex::new((VecDeque::new(), false)),
        ready: Condvar::new(),
        dispatches: AtomicU64::new(0),
        reready: AtomicU64::new(0),
    });
    let workers = (0..threads.max(1))
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn dispatch<E: Exchange>(
    listener: TcpListener,
    shared: &Shared<E>,
    stop: &StopSignal,
) -> std::io::Result<()> {
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
                            state: Mutex::new(shared.exchange.open()),
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

fn work<E: Exchange>(shared: &Shared<E>) {
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
        let served = {
            let mut state = lock(&conn.state);
            shared
                .exchange
                .serve(&conn.stream, &mut state, &shared.reready)
        };
        match served {
            // Only now may epoll report it again.
            Ok(Then::Read) => {
                let _ = shared.epoll.modify(fd, ARMED, token);
            }
            Ok(Then::Close) | Err(_) => {
                let _ = shared.epoll.delete(fd);
                lock(&shared.conns).remove(&token);
            }
        }
    }
}

/// `write_all` on a non-blocking socket: waits for room when it is full.
/// Always inlined, as it was in echo's worker before http used it too (out
/// of line it costs echo 27 instructions a request).
#[inline(always)]
pub fn write_all(mut stream: &TcpStream, mut data: &[u8]) -> std::io::Result<()> {
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

struct Handle<E: Exchange> {
    stop: StopSignal,
    shared: Arc<Shared<E>>,
    dispatcher: JoinHandle<std::io::Result<()>>,
    workers: Vec<JoinHandle<()>>,
}

impl<E: Exchange> Running for Handle<E> {
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
