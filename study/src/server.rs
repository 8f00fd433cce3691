//! The server contestant interface shared by `echo` and `http`: one small
//! engine per contestant, each a [`Server`] that binds an address and
//! serves it until its [`Running`] handle stops it. The bench runs each in
//! a child process ([`process`]), so that RSS and CPU time are the
//! contestant's alone.
//!
//! A new contestant is one file with one `impl Server` and one line in its
//! bench's `servers()` list. jmpco's runtime, for instance, would be
//! (`jmpco::rt::Runtime::serve` binds its own `SO_REUSEPORT` listeners):
//!
//! ```text
//! fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
//!     let rt = Runtime::builder().worker_threads(1).backend(Backend::Sjlj).build()?;
//!     let size = config.size;
//!     let addr = rt.serve(addr, move |mut stream| {
//!         let mut buf = vec![0; size];
//!         while stream.read_exact(&mut buf).is_ok() && stream.write_all(&buf).is_ok() {}
//!     })?;
//!     Ok(Started { addr, running: Box::new(Stop(rt)) }) // Stop::stop calls rt.shutdown
//! }
//! ```

pub mod process;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;

/// How a server serves.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Bytes of one echo request (and of its response).
    pub size: usize,
    /// Threads for contestants that take a count (thread pool workers,
    /// multi-threaded runtimes); the others ignore it.
    pub threads: usize,
}

/// Counters a server reports when stopped (`reready` for the thread pool,
/// ...); most report none.
pub type Stats = BTreeMap<String, u64>;

/// A server contestant.
pub trait Server: Sync {
    /// The contestant's name in the table and the JSON.
    fn name(&self) -> &'static str;
    /// Binds `addr` (port 0: any free port), starts serving on threads of
    /// its own and returns at once with the bound address.
    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started>;
}

/// What a connection does once a server has answered what it brought
/// (the engines shared by echo and http take it from their exchanges).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// Keep it: read more.
    Read,
    /// Close it.
    Close,
}

/// A server that has started.
pub struct Started {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The handle that stops it.
    pub running: Box<dyn Running>,
}

/// A running server.
pub trait Running: Send {
    /// Stops accepting, ends the server's own threads where it can (threads
    /// blocked on a connection end when the client closes it), and returns
    /// its counters.
    fn stop(self: Box<Self>) -> Stats;
}

/// A stop request that an accept loop notices: a flag, and a connection to
/// the listener that wakes a loop blocked in `accept` or `epoll_wait`.
#[derive(Clone, Debug)]
pub struct StopSignal {
    flag: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl StopSignal {
    /// A signal for the listener at `addr`.
    pub fn new(listener: &TcpListener) -> Result<StopSignal> {
        Ok(StopSignal {
            flag: Arc::new(AtomicBool::new(false)),
            addr: listener.local_addr()?,
        })
    }

    /// Whether a stop was requested; accept loops check it after each accept.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Requests the stop and wakes the accept loop.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr);
    }
}
