//! Raw socket set-up std does not offer: `SO_REUSEPORT` listeners with a
//! large backlog, non-blocking connects (TCP and Unix), datagram sockets
//! born non-blocking, `accept4` for both families, and buffer sizes.

use std::io;
use std::mem;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::path::Path;

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

/// `addr`'s address family.
fn family(addr: &SocketAddr) -> i32 {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

/// A non-blocking, close-on-exec socket of `family` and `ty`.
fn new_socket(family: i32, ty: i32) -> io::Result<OwnedFd> {
    let ty = ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket takes plain integers.
    let fd = syscall!(socket(family, ty, 0))?;
    // SAFETY: socket just returned this fd; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A non-blocking, close-on-exec stream socket for `addr`'s family.
fn stream_socket(addr: &SocketAddr) -> io::Result<OwnedFd> {
    new_socket(family(addr), libc::SOCK_STREAM)
}

/// Sets the `i32` socket option `level`/`name`.
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

/// Reads the `i32` socket option `level`/`name`.
fn int_option(fd: RawFd, level: i32, name: i32) -> io::Result<i32> {
    let mut value: i32 = 0;
    let mut len = mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: passes a live i32 and its size.
    syscall!(getsockopt(
        fd,
        level,
        name,
        std::ptr::from_mut(&mut value).cast(),
        &mut len
    ))?;
    Ok(value)
}

/// Sets `SO_SNDBUF` or `SO_RCVBUF` (`name`) to `bytes` (the kernel doubles
/// it for its bookkeeping, and clamps it to its limits).
pub(crate) fn set_buffer_size(fd: RawFd, name: i32, bytes: usize) -> io::Result<()> {
    let value = i32::try_from(bytes).unwrap_or(i32::MAX);
    set_int_option(fd, libc::SOL_SOCKET, name, value)
}

/// Reads `SO_SNDBUF` or `SO_RCVBUF` (`name`).
pub(crate) fn buffer_size(fd: RawFd, name: i32) -> io::Result<usize> {
    int_option(fd, libc::SOL_SOCKET, name).map(|v| usize::try_from(v).unwrap_or(0))
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
    let err = int_option(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// A non-blocking, close-on-exec UDP socket bound to `addr`.
pub(crate) fn udp_bind(addr: &SocketAddr) -> io::Result<OwnedFd> {
    use std::os::fd::AsRawFd;
    let sock = new_socket(family(addr), libc::SOCK_DGRAM)?;
    let (storage, len) = sockaddr(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes.
    syscall!(bind(
        sock.as_raw_fd(),
        std::ptr::from_ref(&storage).cast(),
        len
    ))?;
    Ok(sock)
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

/// A `sockaddr_un` naming the filesystem path `path`, and its length;
/// std's rules: no NUL byte, and room for the terminating NUL.
fn unix_sockaddr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut sun: libc::sockaddr_un = unsafe { mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "jmpco: a Unix socket path may not contain a NUL byte",
        ));
    }
    if bytes.is_empty() || bytes.len() >= sun.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "jmpco: a Unix socket path must be 1 to 107 bytes long",
        ));
    }
    for (dst, &src) in sun.sun_path.iter_mut().zip(bytes) {
        *dst = src as libc::c_char;
    }
    let len = mem::offset_of!(libc::sockaddr_un, sun_path) + bytes.len() + 1;
    Ok((sun, len as libc::socklen_t))
}

/// A non-blocking, close-on-exec Unix stream socket, not connected yet.
pub(crate) fn unix_stream_socket() -> io::Result<OwnedFd> {
    new_socket(libc::AF_UNIX, libc::SOCK_STREAM)
}

/// One non-blocking `connect` of the Unix stream socket `fd` to `path`.
///
/// A Unix connect never is in progress: it completes at once, or fails;
/// with `EAGAIN` (`WouldBlock`) when the listener's backlog is full, in
/// which case nothing was queued and the call must be made again later.
pub(crate) fn unix_connect(fd: RawFd, path: &Path) -> io::Result<()> {
    let (sun, len) = unix_sockaddr(path)?;
    // SAFETY: `sun` holds a valid sockaddr_un of `len` bytes.
    syscall!(connect(fd, std::ptr::from_ref(&sun).cast(), len)).map(drop)
}

/// `accept4` with `SOCK_NONBLOCK | SOCK_CLOEXEC` on a Unix listener, and
/// the peer's address (unnamed, unless the peer bound its socket).
pub(crate) fn accept_unix(fd: RawFd) -> io::Result<(OwnedFd, UnixSocketAddr)> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut sun: libc::sockaddr_un = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: `sun` has room for any Unix address and `len` says how much.
    let new = syscall!(accept4(
        fd,
        std::ptr::from_mut(&mut sun).cast(),
        &mut len,
        flags
    ))?;
    // SAFETY: accept4 just returned this fd; nothing else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(new) };
    Ok((sock, unix_addr(&sun, len)?))
}

/// The std address for the first `len` bytes of `sun`, as `accept` or
/// `getpeername` filled them in: unnamed (no path), abstract (a leading
/// NUL, Linux), or a filesystem path (up to its first NUL).
fn unix_addr(sun: &libc::sockaddr_un, len: libc::socklen_t) -> io::Result<UnixSocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    let offset = mem::offset_of!(libc::sockaddr_un, sun_path);
    let n = (len as usize)
        .saturating_sub(offset)
        .min(sun.sun_path.len());
    let path: Vec<u8> = sun.sun_path[..n].iter().map(|&c| c as u8).collect();
    match path.split_first() {
        // An empty path is how std spells "unnamed".
        None => UnixSocketAddr::from_pathname(""),
        Some((0, name)) => UnixSocketAddr::from_abstract_name(name),
        Some(_) => {
            let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
            UnixSocketAddr::from_pathname(std::ffi::OsStr::from_bytes(&path[..end]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(path: &[u8]) -> (libc::sockaddr_un, libc::socklen_t) {
        // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
        let mut sun: libc::sockaddr_un = unsafe { mem::zeroed() };
        sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, &src) in sun.sun_path.iter_mut().zip(path) {
            *dst = src as libc::c_char;
        }
        let len = mem::offset_of!(libc::sockaddr_un, sun_path) + path.len();
        (sun, len as libc::socklen_t)
    }

    #[test]
    fn unix_addresses_convert_for_all_three_kinds() {
        use std::os::linux::net::SocketAddrExt;
        let (sun, len) = raw(b"");
        assert!(unix_addr(&sun, len).unwrap().is_unnamed());

        let (sun, len) = raw(b"/tmp/x.sock\0");
        let addr = unix_addr(&sun, len).unwrap();
        assert_eq!(addr.as_pathname(), Some(Path::new("/tmp/x.sock")));

        // Linux may report a path without its NUL.
        let (sun, len) = raw(b"/tmp/y.sock");
        let addr = unix_addr(&sun, len).unwrap();
        assert_eq!(addr.as_pathname(), Some(Path::new("/tmp/y.sock")));

        let (sun, len) = raw(b"\0hidden");
        let addr = unix_addr(&sun, len).unwrap();
        assert_eq!(addr.as_abstract_name(), Some(&b"hidden"[..]));
        assert!(addr.as_pathname().is_none());
    }

    #[test]
    fn unix_paths_follow_std_rules() {
        let (sun, len) = unix_sockaddr(Path::new("/tmp/z.sock")).unwrap();
        let addr = unix_addr(&sun, len).unwrap();
        assert_eq!(addr.as_pathname(), Some(Path::new("/tmp/z.sock")));
        let nul = unix_sockaddr(Path::new("/tmp/a\0b")).unwrap_err();
        assert_eq!(nul.kind(), io::ErrorKind::InvalidInput);
        let long = "x".repeat(200);
        let long = unix_sockaddr(Path::new(&long)).unwrap_err();
        assert_eq!(long.kind(), io::ErrorKind::InvalidInput);
        assert!(unix_sockaddr(Path::new("")).is_err());
    }
}
