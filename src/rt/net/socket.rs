//! Raw socket set-up std does not offer: `SO_REUSEPORT` listeners with a
//! large backlog, and non-blocking connects.

use std::io;
use std::mem;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::rt::syscall::syscall;

/// The listen backlog we ask for (the kernel caps it at `somaxconn`).
const BACKLOG: i32 = 4096;

/// A `sockaddr_storage` holding `addr`, and its length.
fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all zeroes is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for
            // sockaddr_in.
            unsafe {
                std::ptr::from_mut(&mut storage)
                    .cast::<libc::sockaddr_in>()
                    .write(sin)
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe {
                std::ptr::from_mut(&mut storage)
                    .cast::<libc::sockaddr_in6>()
                    .write(sin6)
            };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// A non-blocking, close-on-exec stream socket for `addr`'s family.
fn stream_socket(addr: &SocketAddr) -> io::Result<OwnedFd> {
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket takes plain integers.
    let fd = syscall!(socket(family, ty, 0))?;
    // SAFETY: socket just returned this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_int_option(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: passes a live i32 and its size.
    syscall!(setsockopt(
        fd,
        level,
        name,
        std::ptr::from_ref(&value).cast(),
        mem::size_of::<i32>() as libc::socklen_t
    ))
    .map(drop)
}

/// A listening, non-blocking socket bound to `addr` with `SO_REUSEADDR`,
/// and `SO_REUSEPORT` if `reuse_port` (so each worker can have its own
/// listener on one port and the kernel spreads connections among them).
pub(crate) fn listen(addr: &SocketAddr, reuse_port: bool) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let sock = stream_socket(addr)?;
    let fd = sock.as_raw_fd();
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if reuse_port {
        set_int_option(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    }
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
    syscall!(bind(fd, std::ptr::from_ref(&storage).cast(), len))?;
    // SAFETY: listen takes plain integers.
    syscall!(listen(fd, BACKLOG))?;
    Ok(sock)
}

/// Starts a non-blocking connect; `Ok(true)` if it completed at once,
/// `Ok(false)` if it is in progress (wait for writable, then
/// [`take_error`]).
pub(crate) fn start_connect(addr: &SocketAddr) -> io::Result<(OwnedFd, bool)> {
    use std::os::fd::AsRawFd;
    let sock = stream_socket(addr)?;
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
    match syscall!(connect(
        sock.as_raw_fd(),
        std::ptr::from_ref(&storage).cast(),
        len
    )) {
        Ok(_) => Ok((sock, true)),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok((sock, false)),
        Err(e) => Err(e),
    }
}

/// The socket's pending error (`SO_ERROR`), if any.
pub(crate) fn take_error(fd: RawFd) -> io::Result<Option<io::Error>> {
    let mut err: i32 = 0;
    let mut len = mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: passes a live i32 and its size.
    syscall!(getsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ERROR,
        std::ptr::from_mut(&mut err).cast(),
        &mut len
    ))?;
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// `accept4` with `SOCK_NONBLOCK | SOCK_CLOEXEC`: the new socket is ready
/// for the runtime without another system call.
pub(crate) fn accept(fd: RawFd) -> io::Result<(OwnedFd, SocketAddr)> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: sockaddr_storage is plain data; all zeroes is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` has room for any address and `len` says how much.
    let new = syscall!(accept4(
        fd,
        std::ptr::from_mut(&mut storage).cast(),
        &mut len,
        flags
    ))?;
    // SAFETY: accept4 just returned this fd; nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(new) };
    Ok((sock, to_socket_addr(&storage)?))
}

/// The inverse of [`sockaddr`] for the two IP families.
fn to_socket_addr(storage: &libc::sockaddr_storage) -> io::Result<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, and
            // sockaddr_storage is aligned for it.
            let sin = unsafe { &*std::ptr::from_ref(storage).cast::<libc::sockaddr_in>() };
            let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
            Ok(SocketAddrV4::new(ip, u16::from_be(sin.sin_port)).into())
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*std::ptr::from_ref(storage).cast::<libc::sockaddr_in6>() };
            let ip = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            let port = u16::from_be(sin6.sin6_port);
            Ok(SocketAddrV6::new(ip, port, sin6.sin6_flowinfo, sin6.sin6_scope_id).into())
        }
        _ => Err(io::Error::other(
            "jmpco: accepted a socket of an unknown family",
        )),
    }
}
