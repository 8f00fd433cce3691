//! [`TcpListener`] and [`TcpStream`].

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use super::addr::{self, no_address, ToSocketAddrs};
use super::socket;
use crate::rt::io::Registration;
use crate::rt::timer::deadline_after;
use crate::rt::Interest;

/// Neither `Send` nor `Sync`.
type NotSend = PhantomData<*const ()>;

/// A TCP listening socket whose `accept` parks the task.
pub struct TcpListener {
    // Declared first: dropped (deregistered) before the socket closes.
    reg: Registration,
    inner: std::net::TcpListener,
    _not_send: NotSend,
}

impl TcpListener {
    /// Binds and listens on `addr` (backlog 4096, `SO_REUSEADDR`).
    pub fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        Ok(Self::from_fd(socket::listen(&addr, false)?))
    }

    /// Like [`bind`](Self::bind), with `SO_REUSEPORT`: several listeners
    /// (one per worker) may bind the same port, and the kernel spreads new
    /// connections among them.
    pub fn bind_reuseport(addr: SocketAddr) -> io::Result<TcpListener> {
        Ok(Self::from_fd(socket::listen(&addr, true)?))
    }

    fn from_fd(fd: std::os::fd::OwnedFd) -> TcpListener {
        let inner = std::net::TcpListener::from(fd);
        TcpListener {
            reg: Registration::new(inner.as_raw_fd()),
            inner,
            _not_send: PhantomData,
        }
    }

    /// Wraps a std listener, switching it to non-blocking mode.
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        Ok(Self::from_fd(listener.into()))
    }

    /// Waits for a connection (parking the task) and accepts it.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let fd = self.inner.as_raw_fd();
        let (sock, addr) =
            self.reg
                .io(Interest::READABLE, None, || socket::accept(fd), |_| false)?;
        Ok((TcpStream::from_inner(std::net::TcpStream::from(sock)), addr))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("fd", &self.inner.as_raw_fd())
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

/// A TCP connection whose reads and writes park the task, not the thread.
pub struct TcpStream {
    // Declared first: dropped (deregistered) before the socket closes.
    reg: Registration,
    inner: std::net::TcpStream,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
    _not_send: NotSend,
}

impl TcpStream {
    fn from_inner(inner: std::net::TcpStream) -> TcpStream {
        TcpStream {
            reg: Registration::new(inner.as_raw_fd()),
            inner,
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
            _not_send: PhantomData,
        }
    }

    /// Connects to the first address of `addr` that accepts, parking the
    /// task while the handshakes run. A host name (`"localhost:7000"`) is
    /// resolved on the blocking pool when called in a task, so its worker
    /// runs other tasks meanwhile; addresses and IP literals need no lookup
    /// (see [`ToSocketAddrs`]).
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        Self::connect_until(addr, None)
    }

    /// [`connect`](Self::connect) within `timeout`, which covers the name
    /// lookup and every connection attempt (`TimedOut` once it passes; a
    /// duration too large for an `Instant`, such as `Duration::MAX`: no
    /// limit).
    pub fn connect_with_timeout(
        addr: impl ToSocketAddrs,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        Self::connect_until(addr, deadline_after(timeout))
    }

    fn connect_until(addr: impl ToSocketAddrs, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let target = addr::resolve(addr::target(&addr)?, deadline)?;
        let mut last = None;
        for a in addr::addresses(&target) {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "jmpco: connect timed out",
                ));
            }
            match Self::connect_timeout(a, left) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(no_address))
    }

    /// Connects to `addr`, parking the task while the handshake runs;
    /// `TimedOut` after `timeout`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
        let (sock, done) = socket::start_connect(addr)?;
        let stream = TcpStream::from_inner(std::net::TcpStream::from(sock));
        if !done {
            let fd = stream.inner.as_raw_fd();
            let mut first = true;
            let op = || {
                if std::mem::take(&mut first) {
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                match socket::take_error(fd)? {
                    Some(e) => Err(e),
                    None => Ok(()),
                }
            };
            stream.reg.io(Interest::WRITABLE, timeout, op, |_| false)?;
        }
        Ok(stream)
    }

    /// Wraps a connected std stream, switching it to non-blocking mode.
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        Ok(TcpStream::from_inner(stream))
    }

    /// Unwraps the std stream (deregistered, back in blocking mode), e.g.
    /// to hand it to another thread.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        let TcpStream { reg, inner, .. } = self;
        drop(reg);
        inner.set_nonblocking(false)?;
        Ok(inner)
    }

    /// How long a read may park before failing with `TimedOut` (`None`:
    /// forever, the default).
    pub fn set_read_timeout(&self, timeout: Option<Duration>) {
        self.read_timeout.set(timeout);
    }

    /// How long a write may park before failing with `TimedOut`.
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

    /// Parks until the stream may be readable (data, EOF or an error), or
    /// the read timeout passes (`TimedOut`); reads nothing. Returns at once
    /// unless a read has seen `WouldBlock` since the last readiness event.
    /// With [`try_read`](Self::try_read), lets a handler hold no buffer
    /// while it waits.
    pub fn readable(&self) -> io::Result<()> {
        self.reg.ready(Interest::READABLE, self.read_timeout.get())
    }

    /// Parks until the stream may be writable, or the write timeout passes.
    pub fn writable(&self) -> io::Result<()> {
        self.reg.ready(Interest::WRITABLE, self.write_timeout.get())
    }

    /// Reads without parking: `WouldBlock` if nothing has arrived.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        let mut inner = &self.inner;
        self.reg.try_io(
            Interest::READABLE,
            || inner.read(buf),
            |&n| n > 0 && n < len,
        )
    }

    /// Writes without parking: `WouldBlock` if the send buffer is full.
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        let len = buf.len();
        let mut inner = &self.inner;
        self.reg
            .try_io(Interest::WRITABLE, || inner.write(buf), |&n| n < len)
    }

    /// `TCP_NODELAY`: send small writes at once (no Nagle delay).
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }

    /// Shuts down one or both directions (`Write`: the peer reads EOF).
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }

    /// `SO_LINGER`: with `Some(ZERO)`, dropping the stream resets the
    /// connection instead of a clean close.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        let value = libc::linger {
            l_onoff: i32::from(linger.is_some()),
            l_linger: linger.map_or(0, |d| d.as_secs().min(i32::MAX as u64) as i32),
        };
        // SAFETY: passes a live `linger` and its size.
        crate::rt::syscall::syscall!(setsockopt(
            self.inner.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&value).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t
        ))
        .map(drop)
    }

    /// `SO_SNDBUF`: how many bytes the kernel holds for the peer before
    /// a write parks (it doubles the value for its bookkeeping). Setting it
    /// turns off the kernel's tuning of that buffer, which may otherwise
    /// grow to megabytes for a peer that does not read.
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        socket::set_buffer_size(self.as_raw_fd(), libc::SO_SNDBUF, bytes)
    }

    /// The send buffer's size, as the kernel reports it.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        socket::buffer_size(self.as_raw_fd(), libc::SO_SNDBUF)
    }

    /// `SO_RCVBUF`: how many bytes the kernel holds before the peer's
    /// writes wait (set it before the window grows: early in the
    /// connection).
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        socket::set_buffer_size(self.as_raw_fd(), libc::SO_RCVBUF, bytes)
    }

    /// The receive buffer's size, as the kernel reports it.
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        socket::buffer_size(self.as_raw_fd(), libc::SO_RCVBUF)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

super::stream_io::parking_stream_io!(TcpStream);

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for TcpStream {
    /// The fd, e.g. to [`try_clone_to_owned`](BorrowedFd::try_clone_to_owned)
    /// it: a duplicate (a std stream, say) that another thread may
    /// `shutdown` to end this stream's blocked reads and writes.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("fd", &self.inner.as_raw_fd())
            .field("peer", &self.peer_addr().ok())
            .finish()
    }
}
