//! The server contestant interface shared by `echo` and `http`: one small
//! engine per contestant, each a [`Server`] that serves a bound listener
//! until its [`Running`] handle stops it.
//!
//! A new contestant (jmpco's coroutine runtime, say) is one file with one
//! `impl Server` and one line in its bench's `servers()` list. The bench
//! runs each in a child process ([`process`]), so that RSS and CPU time
//! are the contestant's alone.

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
    /// Starts serving `listener` (bound, blocking) on threads of its own and
    /// returns at once.
    fn start(&self, listener: TcpListener, config: &ServeConfig) -> Result<Box<dyn Running>>;
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
