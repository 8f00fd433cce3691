//! `sync`: the notes' synchronous server — one thread, one level-triggered
//! epoll loop, blocking sockets. On each readable connection it reads a
//! whole request (blocking until it is complete) and writes the response,
//! one connection after another. Simple, and one slow client stalls all.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;

use anyhow::Result;

use crate::server::{Running, ServeConfig, Server, Started, Stats, StopSignal};
use crate::sys::epoll::{Epoll, Events, EPOLLIN};

/// The synchronous epoll loop.
pub struct Sync;

const LISTENER: u64 = u64::MAX;

impl Server for Sync {
    fn name(&self) -> &'static str {
        "sync"
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let stop = StopSignal::new(&listener)?;
        let size = config.size;
        let signal = stop.clone();
        let thread = std::thread::spawn(move || serve(listener, size, &signal));
        Ok(Started {
            addr,
            running: Box::new(Handle { stop, thread }),
        })
    }
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

fn serve(listener: TcpListener, size: usize, stop: &StopSignal) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let epoll = Epoll::new()?;
    epoll.add(listener.as_raw_fd(), EPOLLIN, LISTENER)?;
    let mut conns: HashMap<u64, TcpStream> = HashMap::new();
    let mut events = Events::with_capacity(256);
    let mut buf = vec![0u8; size];
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
                            conns.insert(next, stream);
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
            let Some(stream) = conns.get_mut(&token) else {
                continue;
            };
            let served = stream
                .read_exact(&mut buf)
                .and_then(|()| stream.write_all(&buf));
            if served.is_err() {
                if let Some(stream) = conns.remove(&token) {
                    let _ = epoll.delete(stream.as_raw_fd());
                }
            }
        }
    }
}
