//! `sync`: the notes' synchronous server — one thread, one level-triggered
//! epoll loop, blocking sockets. On each readable connection it reads a
//! whole request (blocking until it is complete) and writes the response,
//! one connection after another. Simple, and one slow client stalls all.
//!
//! The loop ([`start`]) is the design; what a readable connection gets is
//! the caller's: echo's exchange here, the http hello server's in
//! `crate::http::sync`.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;

use anyhow::Result;

use crate::server::{Running, ServeConfig, Server, Started, Stats, StopSignal, Then};
use crate::sys::epoll::{Epoll, Events, EPOLLIN};

/// The synchronous epoll loop.
pub struct Sync;

const LISTENER: u64 = u64::MAX;

impl Server for Sync {
    fn name(&self) -> &'static str {
        "sync"
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        let mut buf = vec![0u8; config.size];
        start(
            addr,
            |stream| stream,
            move |stream: &mut TcpStream| {
                stream.read_exact(&mut buf)?;
                stream.write_all(&buf)?;
                Ok(Then::Read)
            },
        )
    }
}

/// Binds `addr` and serves it on one thread: each accepted (blocking)
/// socket becomes a connection through `open`, and each time one is
/// readable the loop calls `ready` on it, which reads and answers with
/// blocking calls. An error or [`Then::Close`] closes the connection.
pub fn start<C, O, R>(addr: SocketAddr, open: O, ready: R) -> Result<Started>
where
    C: AsRawFd + 'static,
    O: FnMut(TcpStream) -> C + Send + 'static,
    R: FnMut(&mut C) -> std::io::Result<Then> + Send + 'static,
{
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let stop = StopSignal::new(&listener)?;
    let signal = stop.clone();
    let thread = std::thread::spawn(move || serve(listener, &signal, open, ready));
    Ok(Started {
        addr,
        running: Box::new(Handle { stop, thread }),
    })
}

struct Handle {
    stop: StopSignal,
    thread: JoinHandle<std::io::Result<()>>,
}

impl Running for Handle {
    fn stop(self: Box<Self>) -> Stats {
        self.stop.trigger();
        let _ = self.thread.join();
        Stats::new()
    }
}

fn serve<C: AsRawFd>(
    listener: TcpListener,
    stop: &StopSignal,
    mut open: impl FnMut(TcpStream) -> C,
    mut ready: impl FnMut(&mut C) -> std::io::Result<Then>,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let epoll = Epoll::new()?;
    epoll.add(listener.as_raw_fd(), EPOLLIN, LISTENER)?;
    let mut conns: HashMap<u64, C> = HashMap::new();
    let mut events = Events::with_capacity(256);
    let mut next = 0u64;
    loop {
        epoll.wait(&mut events, None)?;
        for (token, _) in events.iter() {
            if token == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            // Accepted sockets are blocking: the notes' design.
                            stream.set_nodelay(true)?;
                            epoll.add(stream.as_raw_fd(), EPOLLIN, next)?;
                            conns.insert(next, open(stream));
                            next += 1;
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                if stop.is_set() {
                    return Ok(());
                }
                continue;
            }
            let Some(conn) = conns.get_mut(&token) else {
                continue;
            };
            if !matches!(ready(conn), Ok(Then::Read)) {
                if let Some(conn) = conns.remove(&token) {
                    let _ = epoll.delete(conn.as_raw_fd());
                }
            }
        }
    }
}
