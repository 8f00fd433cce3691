//! [`UnixListener`] and [`UnixStream`]: Unix-domain stream sockets that
//! park the task.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::socket;
use crate::rt::io::Registration;
use crate::rt::task::try_sleep;
use crate::rt::timer::deadline_after;
use crate::rt::Interest;

/// The first and the longest pause between connect attempts while a
/// listener's backlog is full.
const BACKLOG_RETRY: (Duration, Duration) = (Duration::from_millis(1), Duration::from_millis(50));

/// A Unix-domain listening socket whose `accept` parks the task.
pub struct UnixListener {
    // Declared first: dropped (deregistered) before the socket closes.
    reg: Registration,
    inner: std::os::unix::net::UnixListener,
    _not_send: PhantomData<*const ()>,
}

impl UnixListener {
    /// Creates the socket file `path` and listens on it (std's backlog:
    /// the kernel's maximum on Linux). The file stays when the listener is
    /// dropped: remove it yourself.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        Self::from_std(std::os::unix::net::UnixListener::bind(path)?)
    }

    /// Wraps a std listener, switching it to non-blocking mode.
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            reg: Registration::new(listener.as_raw_fd()),
            inner: listener,
            _not_send: PhantomData,
        })
    }

    /// Waits for a connection (parking the task) and accepts it; the
    /// address is unnamed unless the peer bound its socket.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let fd = self.inner.as_raw_fd();
        let (sock, addr) = self.reg.io(
            Interest::READABLE,
            None,
            || socket::accept_unix(fd),
            |_| false,
        )?;
        Ok((UnixStream::from_fd(sock), addr))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("fd", &self.inner.as_raw_fd())
            .field("addr", &self.local_addr().ok())
            .finish()
    }
}

/// A Unix-domain stream socket whose reads and writes park the task.
pub struct UnixStream {
    // Declared first: dropped (deregistered) before the socket closes.
    reg: Registration,
    inner: std::os::unix::net::UnixStream,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
    _not_send: PhantomData<*const ()>,
}

impl UnixStream {
    /// A connected pair (`socketpair`).
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((Self::from_std(a)?, Self::from_std(b)?))
    }

    /// Connects to the listener at `path`.
    ///
    /// A Unix connect completes at once, or fails: with `EAGAIN` when the
    /// listener's backlog is full. Nothing is queued then, and no event
    /// will say when there is room (an unconnected socket polls writable
    /// all along, so waiting for writable would spin), so the task sleeps
    /// (1 ms, doubling up to 50 ms) and tries again until the listener
    /// takes it, or refuses. Outside a task the thread sleeps instead.
    ///
    /// # Errors
    /// `NotFound` (no such file), `ConnectionRefused` (no one listens),
    /// `InvalidInput` (a path with a NUL byte, or too long for a Unix
    /// address); a refused park, in a task that is being cancelled while
    /// the backlog is full.
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        Self::connect_until(path.as_ref(), None)
    }

    /// [`connect`](Self::connect) within `timeout`: `TimedOut` if the
    /// listener's backlog stays full that long (a zero timeout tries once;
    /// a duration too large for an `Instant`, such as `Duration::MAX`: no
    /// limit). A connect that completes or fails at once is unaffected.
    ///
    /// # Errors
    /// As `connect`, and `TimedOut`.
    pub fn connect_timeout(path: impl AsRef<Path>, timeout: Duration) -> io::Result<UnixStream> {
        Self::connect_until(path.as_ref(), deadline_after(timeout))
    }

    fn connect_until(path: &Path, deadline: Option<Instant>) -> io::Result<UnixStream> {
        let sock = socket::unix_stream_socket()?;
        let (mut pause, longest) = BACKLOG_RETRY;
        loop {
            match socket::unix_connect(sock.as_raw_fd(), path) {
                Ok(()) => return Ok(Self::from_fd(sock)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    if left.is_some_and(|left| left.is_zero()) {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "jmpco: Unix connect timed out (the listener's backlog stayed full)",
                        ));
                    }
                    let nap = left.map_or(pause, |left| left.min(pause));
                    match try_sleep(nap) {
                        None => std::thread::sleep(nap),
                        Some(Ok(())) => {}
                        Some(Err(refused)) => return Err(refused.into()),
                    }
                    pause = (pause * 2).min(longest);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Wraps a std stream, switching it to non-blocking mode.
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(Self::from_inner(stream))
    }

    /// Wraps a socket that is non-blocking already.
    fn from_fd(fd: OwnedFd) -> UnixStream {
        Self::from_inner(fd.into())
    }

    fn from_inner(inner: std::os::unix::net::UnixStream) -> UnixStream {
        UnixStream {
            reg: Registration::new(inner.as_raw_fd()),
            inner,
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
            _not_send: PhantomData,
        }
    }

    /// How long a read may park before failing with `TimedOut`.
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

    /// Shuts down one or both directions.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how)
    }

    /// The local address (unnamed for a connecting socket).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// The peer's address (the listener's path, for a connected client).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

super::stream_io::parking_stream_io!(UnixStream);

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("fd", &self.inner.as_raw_fd())
            .finish()
    }
}
