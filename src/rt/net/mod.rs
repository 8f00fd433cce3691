//! Non-blocking sockets that park the task instead of the thread:
//! [`TcpListener`], [`TcpStream`], [`UnixStream`].
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
//! * Dropping a stream removes it from epoll, then closes it.
//!
//! The types are neither `Send` nor `Sync`: their registration belongs to
//! the worker that made it. To move a connection to another thread, move
//! the std socket ([`TcpStream::into_std`]) and wrap it there.

pub(crate) mod socket;
mod stream_io;
mod tcp;
mod unix;

pub use tcp::{TcpListener, TcpStream};
pub use unix::UnixStream;
