//! Non-blocking sockets that park the task instead of the thread:
//! [`TcpListener`], [`TcpStream`], [`UdpSocket`], [`UnixListener`],
//! [`UnixStream`]; and name resolution off the worker ([`lookup_host`],
//! [`ToSocketAddrs`]).
//!
//! Each wraps the std socket, switched to `O_NONBLOCK`, and a registration
//! with the worker's epoll made on the first call that would block. They
//! implement [`std::io::Read`] and [`std::io::Write`] (for `&T` too, so one
//! task can read while another writes the same stream), hence `read_exact`,
//! `write_all`, `BufReader` and the rest work unchanged.
//!
//! * A read that would block parks the task until the fd becomes readable
//!   (or the read timeout passes: [`std::io::ErrorKind::TimedOut`]).
//! * TCP is a byte stream: a read returns whatever has arrived, part of one
//!   write or parts of several. Frame your messages.
//! * Writes return how much the kernel took; `write_all` loops, parking
//!   while the send buffer is full, which is what bounds a server's memory
//!   when a client stops reading (backpressure).
//! * UDP keeps datagram boundaries: one `recv_from` is one datagram. A
//!   successful receive never clears the readiness bit (see `udp.rs`).
//! * A host name given to a connect (`"localhost:7000"`) is resolved on
//!   the blocking pool in a task, so `getaddrinfo` never stalls a worker;
//!   addresses and IP literals need no lookup.
//! * Dropping a socket removes it from epoll, then closes it.
//!
//! The types are neither `Send` nor `Sync`: their registration belongs to
//! the worker that made it. To move a connection to another thread, move
//! the std socket ([`TcpStream::into_std`]) and wrap it there.

mod addr;
pub(crate) mod socket;
mod stream_io;
mod tcp;
mod udp;
mod unix;

pub use addr::{lookup_host, ToSocketAddrs};
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixListener, UnixStream};
