//! [`UdpSocket`]: datagrams that park the task.
//!
//! Readiness works differently from the streams. A stream's short read
//! shows the kernel had no more data, so the readiness bit can be cleared
//! at once and the next read waits for a new edge without a system call.
//! A datagram call shows no such thing: `recv` returns exactly one
//! datagram however many are queued behind it (a small one fills a large
//! buffer partly, and says nothing), and `send` queues a whole datagram or
//! fails. Worse, the datagrams queued behind the first have had their
//! edges already, perhaps before that `recv`: clearing the bit after it
//! would forget them, and the next `recv` would wait for an edge that only
//! a further datagram brings (a burst of ten would deliver one). So here
//! only `WouldBlock` clears the bit; each burst costs one `recv` that gets
//! `EAGAIN`, as with mio and tokio.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::Duration;

use super::addr::{self, no_address, ToSocketAddrs};
use super::socket;
use crate::rt::io::Registration;
use crate::rt::Interest;

/// A UDP socket whose sends and receives park the task, not the thread.
///
/// ```no_run
/// use jmpco::rt::{Runtime, UdpSocket};
///
/// let rt = Runtime::builder().worker_threads(1).build()?;
/// rt.block_on(|| -> std::io::Result<()> {
///     let sock = UdpSocket::bind("127.0.0.1:0")?;
///     let mut buf = [0u8; 1500];
///     loop {
///         let (n, from) = sock.recv_from(&mut buf)?; // parks this task only
///         sock.send_to(&buf[..n], from)?;
///     }
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Each call makes one non-blocking system call and, on `WouldBlock`,
/// parks until the fd is ready (or the read or write timeout passes:
/// `TimedOut`); outside a task the thread blocks in `poll(2)` instead.
/// Neither `Send` nor `Sync`, like the other net types: to move a socket
/// to another thread, move the std socket ([`into_std`](Self::into_std)).
pub struct UdpSocket {
    // Declared first: dropped (deregistered) before the socket closes.
    reg: Registration,
    inner: std::net::UdpSocket,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
    _not_send: PhantomData<*const ()>,
}

/// A datagram call never shows the fd drained (see the module docs).
fn never_drained<T>(_: &T) -> bool {
    false
}

impl UdpSocket {
    /// A socket bound to the first address of `addr` that can be bound
    /// (port 0: any free port). A host name is resolved as
    /// [`ToSocketAddrs`] says (on the blocking pool, in a task).
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let target = addr::resolve(addr::target(&addr)?, None)?;
        let mut last = None;
        for a in addr::addresses(&target) {
            match socket::udp_bind(a) {
                Ok(fd) => return Ok(Self::from_inner(fd.into())),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_address))
    }

    fn from_inner(inner: std::net::UdpSocket) -> UdpSocket {
        UdpSocket {
            reg: Registration::new(inner.as_raw_fd()),
            inner,
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
            _not_send: PhantomData,
        }
    }

    /// Wraps a std socket, switching it to non-blocking mode.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        Ok(Self::from_inner(socket))
    }

    /// Unwraps the std socket (deregistered, back in blocking mode).
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let UdpSocket { reg, inner, .. } = self;
        drop(reg);
        inner.set_nonblocking(false)?;
        Ok(inner)
    }

    /// Sets the peer: [`send`](Self::send) goes there, and only its
    /// datagrams are received. Tries the addresses of `addr` in turn (a
    /// host name is resolved as [`ToSocketAddrs`] says). No packet is
    /// sent: a UDP connect completes at once.
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        let target = addr::resolve(addr::target(&addr)?, None)?;
        let mut last = None;
        for a in addr::addresses(&target) {
            match self.inner.connect(a) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_address))
    }

    /// Sends one datagram to `target`; returns its length. Parks while the
    /// send buffer is full (rare for UDP), up to the write timeout.
    pub fn send_to(&self, buf: &[u8], target: SocketAddr) -> io::Result<usize> {
        self.reg.io(
            Interest::WRITABLE,
            self.write_timeout.get(),
            || self.inner.send_to(buf, target),
            never_drained,
        )
    }

    /// Receives one datagram: its length (at most `buf.len()`; the rest of
    /// a longer datagram is discarded) and its sender. Parks until one
    /// arrives, up to the read timeout.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.reg.io(
            Interest::READABLE,
            self.read_timeout.get(),
            || self.inner.recv_from(buf),
            never_drained,
        )
    }

    /// Like [`recv_from`](Self::recv_from), leaving the datagram queued:
    /// the next receive gets it again.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.reg.io(
            Interest::READABLE,
            self.read_timeout.get(),
            || self.inner.peek_from(buf),
            never_drained,
        )
    }

    /// Sends one datagram to the peer set by [`connect`](Self::connect).
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.reg.io(
            Interest::WRITABLE,
            self.write_timeout.get(),
            || self.inner.send(buf),
            never_drained,
        )
    }

    /// Receives one datagram from the peer set by
    /// [`connect`](Self::connect). After an ICMP error for an earlier
    /// send (no one listens there), fails once with `ConnectionRefused`.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.reg.io(
            Interest::READABLE,
            self.read_timeout.get(),
            || self.inner.recv(buf),
            never_drained,
        )
    }

    /// Like [`recv`](Self::recv), leaving the datagram queued.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.reg.io(
            Interest::READABLE,
            self.read_timeout.get(),
            || self.inner.peek(buf),
            never_drained,
        )
    }

    /// How long a receive may park before failing with `TimedOut`
    /// (`None`, the default, or a duration too large for an `Instant` such
    /// as `Duration::MAX`: forever).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.read_timeout.set(timeout);
    }

    /// How long a send may park before failing with `TimedOut` (as for
    /// [`set_read_timeout`](Self::set_read_timeout)).
    pub fn set_write_timeout(&self, timeout: Option<Duration>) {
        self.write_timeout.set(timeout);
    }

    /// The read timeout.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout.get()
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Option<Duration> {
        self.write_timeout.get()
    }

    /// The local address (with the port the kernel chose, after binding
    /// port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The peer set by [`connect`](Self::connect) (`NotConnected` if none).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// `SO_BROADCAST`: whether datagrams may go to a broadcast address.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.set_broadcast(on)
    }

    /// `SO_RCVBUF`: how many bytes of datagrams the kernel queues before
    /// it drops new ones (it doubles the value for its bookkeeping).
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        socket::set_buffer_size(self.as_raw_fd(), libc::SO_RCVBUF, bytes)
    }

    /// The receive buffer's size, as the kernel reports it.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        socket::buffer_size(self.as_raw_fd(), libc::SO_RCVBUF)
    }

    /// `SO_SNDBUF`: the send buffer's size.
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        socket::set_buffer_size(self.as_raw_fd(), libc::SO_SNDBUF, bytes)
    }

    /// The send buffer's size, as the kernel reports it.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        socket::buffer_size(self.as_raw_fd(), libc::SO_SNDBUF)
    }

    /// The socket's pending error (`SO_ERROR`), cleared by reading it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.take_error()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("fd", &self.inner.as_raw_fd())
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}
