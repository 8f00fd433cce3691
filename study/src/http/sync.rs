//! `sync` serving http: the echo bench's synchronous loop
//! ([`crate::echo::sync::start`]: one thread, one level-triggered epoll
//! loop, blocking sockets) with a [`Session`] per connection. On a readable
//! connection it reads until at least one whole request is in (blocking: a
//! client that sends half a request stalls every other one), then answers
//! every complete request of the buffer in one write.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

use anyhow::Result;

use super::request::{Session, Then};
use crate::echo;
use crate::server::{ServeConfig, Server, Started};

/// The synchronous epoll loop serving http.
pub struct Sync;

impl Server for Sync {
    fn name(&self) -> &'static str {
        "sync"
    }

    fn start(&self, addr: SocketAddr, _config: &ServeConfig) -> Result<Started> {
        echo::sync::start(addr, Conn::new, Conn::ready)
    }
}

/// One connection: its blocking socket and its session.
struct Conn {
    stream: TcpStream,
    session: Session,
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl Conn {
    fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            session: Session::new(),
        }
    }

    /// Reads until a read completes a request, then writes the answers.
    fn ready(&mut self) -> std::io::Result<Then> {
        loop {
            let n = match self.stream.read(self.session.spare()) {
                Ok(0) => return Ok(Then::Close),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let (out, then) = self.session.received(n);
            // Nothing to answer (and so no close): part of a request.
            if !out.is_empty() {
                self.stream.write_all(out)?;
                return Ok(then);
            }
        }
    }
}
