//! `thread-pool` serving http: the echo bench's dispatcher and workers
//! ([`crate::echo::thread_pool::start`]: one epoll thread handing each
//! ready connection, registered `EPOLLONESHOT`, to a pool of workers) with
//! a [`Session`] per connection. A worker reads what has arrived
//! (non-blocking) until the socket would block, answering each read's
//! complete requests in one write, then re-arms the fd. `reready` and
//! `dispatches` are counted as in echo: a read that brought a new request
//! after the worker had answered one during the same hold.

use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;

use super::request::{Session, Then};
use crate::echo::thread_pool::{self, write_all, Exchange};
use crate::server::{ServeConfig, Server, Started};

/// Epoll dispatcher + worker pool serving http.
pub struct ThreadPool;

impl Server for ThreadPool {
    fn name(&self) -> &'static str {
        "thread-pool"
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        thread_pool::start(Hello, addr, config.threads)
    }
}

/// The hello exchange.
struct Hello;

impl Exchange for Hello {
    type State = Session;

    fn open(&self) -> Session {
        Session::new()
    }

    fn serve(
        &self,
        mut stream: &TcpStream,
        session: &mut Session,
        reready: &AtomicU64,
    ) -> std::io::Result<Then> {
        let mut answered = false;
        loop {
            match stream.read(session.spare()) {
                Ok(0) => return Ok(Then::Close),
                Ok(n) => {
                    if answered && session.is_empty() {
                        // A new request arrived while this worker held the fd.
                        reready.fetch_add(1, Ordering::Relaxed);
                    }
                    let (out, then) = session.received(n);
                    if !out.is_empty() {
                        write_all(stream, out)?;
                        answered = true;
                    }
                    if then == Then::Close {
                        return Ok(Then::Close);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Then::Read),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}
