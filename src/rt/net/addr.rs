//! Name resolution that never stalls a worker: [`ToSocketAddrs`] and
//! [`lookup_host`].
//!
//! `getaddrinfo` blocks (it may read files, ask a DNS server and wait for
//! its answer for seconds), and a task that calls it holds up every task of
//! its worker. So the connecting calls take this module's
//! [`ToSocketAddrs`] rather than std's: it tells an address that needs no
//! lookup (a `SocketAddr`, an IP literal, a slice of addresses) from a host
//! name, which is copied into an owned `String` and resolved on the
//! blocking pool while only the calling task waits. Addresses and literals
//! never touch the pool. Outside a task (a plain thread, or a coroutine a
//! task created) the lookup runs inline, blocking the thread, as std's
//! does.
//!
//! A lookup with a deadline that passes gives up with `TimedOut`; its pool
//! thread is busy until `getaddrinfo` returns, then drops the answer.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Instant;

use crate::rt::blocking::spawn_blocking;
use crate::rt::channel;
use crate::rt::join::JoinError;
use crate::rt::task::in_task;
use crate::rt::ParkRefused;

/// What can be turned into socket addresses: the types std's
/// [`std::net::ToSocketAddrs`] takes (`SocketAddr` and its two kinds,
/// `(IpAddr, u16)` and the like, `"host:port"`, `(host, port)` with
/// `&str` or `String`, `&[SocketAddr]`, and references to them).
///
/// Unlike std's trait, it tells an address that needs no lookup (a
/// `SocketAddr`, an IP literal, a slice of addresses) from a host name, so
/// that a name can be resolved on the blocking pool when a task asks: only
/// that task waits for `getaddrinfo`, which may take seconds, and its
/// worker runs its other tasks meanwhile. Addresses and IP literals never
/// touch the pool. Outside a task the lookup runs inline, blocking the
/// thread, as std's does.
///
/// Sealed: it is implemented here for exactly those types.
pub trait ToSocketAddrs: sealed::Sealed {}

pub(crate) mod sealed {
    use super::Target;
    use std::io;

    /// How a [`ToSocketAddrs`](super::ToSocketAddrs) value is resolved.
    pub trait Sealed {
        /// The addresses, or the host name (and port) to look up; no
        /// lookup happens here. Only this crate can make the token.
        fn target(&self, token: Token) -> io::Result<Target>;
    }

    /// Keeps [`Sealed::target`] from being called outside the crate
    /// (through a `ToSocketAddrs` bound, where it is in scope).
    #[derive(Clone, Copy, Debug)]
    pub struct Token(pub(super) ());
}

use sealed::Token;

/// `addr`'s addresses or host name, without a lookup.
pub(crate) fn target<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Target> {
    addr.target(Token(()))
}

/// The addresses of a [`ToSocketAddrs`] value, or the name to look up.
#[derive(Debug)]
pub enum Target {
    /// One address.
    One(SocketAddr),
    /// Several addresses, tried in order.
    Many(Vec<SocketAddr>),
    /// A host name and port, for `getaddrinfo`.
    Host(String, u16),
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: sealed::Sealed + ?Sized> sealed::Sealed for &T {
    fn target(&self, t: Token) -> io::Result<Target> {
        (**self).target(t)
    }
}

macro_rules! one_address {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl sealed::Sealed for $ty {
            fn target(&self, _: Token) -> io::Result<Target> {
                Ok(Target::One(SocketAddr::from(*self)))
            }
        }
    )*};
}

one_address!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for [SocketAddr] {}
impl sealed::Sealed for [SocketAddr] {
    fn target(&self, _: Token) -> io::Result<Target> {
        Ok(Target::Many(self.to_vec()))
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl sealed::Sealed for (&str, u16) {
    fn target(&self, _: Token) -> io::Result<Target> {
        let (host, port) = *self;
        Ok(match host.parse::<IpAddr>() {
            Ok(ip) => Target::One(SocketAddr::new(ip, port)),
            Err(_) => Target::Host(host.to_owned(), port),
        })
    }
}

impl ToSocketAddrs for (String, u16) {}
impl sealed::Sealed for (String, u16) {
    fn target(&self, t: Token) -> io::Result<Target> {
        (self.0.as_str(), self.1).target(t)
    }
}

impl ToSocketAddrs for str {}
impl sealed::Sealed for str {
    /// `"host:port"`, as std parses it: a socket address literal first,
    /// else the text after the last `:` is the port.
    fn target(&self, t: Token) -> io::Result<Target> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(Target::One(addr));
        }
        let invalid = || io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address");
        let (host, port) = self.rsplit_once(':').ok_or_else(invalid)?;
        let port: u16 = port.parse().map_err(|_| invalid())?;
        (host, port).target(t)
    }
}

impl ToSocketAddrs for String {}
impl sealed::Sealed for String {
    fn target(&self, t: Token) -> io::Result<Target> {
        self.as_str().target(t)
    }
}

/// Resolves `addr` to its socket addresses: at once for addresses and IP
/// literals; for a host name with `getaddrinfo`, on the blocking pool when
/// called in a task (only the task waits), inline elsewhere (the thread
/// blocks), as `std::net::ToSocketAddrs` would (see [`ToSocketAddrs`]).
///
/// ```no_run
/// # fn main() -> std::io::Result<()> {
/// let addrs = jmpco::rt::lookup_host("localhost:80")?;
/// assert!(addrs.iter().all(|a| a.ip().is_loopback()));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
/// The lookup's error (`InvalidInput` for text that names no port); a
/// refused park, in a task that is being cancelled; the blocking pool's,
/// if it cannot start a thread for the lookup.
pub fn lookup_host(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    Ok(match resolve(target(&addr)?, None)? {
        Target::One(a) => vec![a],
        Target::Many(v) => v,
        Target::Host(..) => unreachable!("resolve leaves no host name"),
    })
}

/// Resolves a host name in `target`, if any, by `deadline` (`TimedOut`
/// after it); the result holds addresses only.
pub(crate) fn resolve(target: Target, deadline: Option<Instant>) -> io::Result<Target> {
    match target {
        Target::Host(host, port) if in_task() => on_pool(host, port, deadline).map(Target::Many),
        Target::Host(host, port) => getaddrinfo(&host, port).map(Target::Many),
        done => Ok(done),
    }
}

/// The addresses `target` holds (after [`resolve`]), first to last.
pub(crate) fn addresses(target: &Target) -> &[SocketAddr] {
    match target {
        Target::One(a) => std::slice::from_ref(a),
        Target::Many(v) => v,
        Target::Host(..) => &[],
    }
}

/// The error for a [`ToSocketAddrs`] value that named no address.
pub(crate) fn no_address() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "jmpco: could not resolve to any addresses",
    )
}

/// std's lookup (`getaddrinfo`), blocking the calling thread.
fn getaddrinfo(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    use std::net::ToSocketAddrs as _;
    Ok((host, port).to_socket_addrs()?.collect())
}

/// [`getaddrinfo`] on the blocking pool, the calling task parked until the
/// answer comes or `deadline` passes.
fn on_pool(host: String, port: u16, deadline: Option<Instant>) -> io::Result<Vec<SocketAddr>> {
    // A channel rather than the join handle: it can wait with a deadline,
    // and a lookup that is given up on leaves nothing behind but the job.
    let (tx, rx) = channel::bounded(1);
    let job = spawn_blocking(move || {
        // The receiver is gone if the caller gave up: drop the answer.
        let _ = tx.send(getaddrinfo(&host, port));
    });
    let got = match deadline {
        None => rx.recv().ok(),
        Some(d) => rx.recv_deadline(d).ok(),
    };
    // An answer sent just as the wait ended still counts.
    if let Some(answer) = got.or_else(|| rx.try_recv().ok()) {
        return answer;
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "jmpco: name resolution timed out",
        ));
    }
    // The sender is gone without an answer (the job was refused, and its
    // handle says why), or the task could not park.
    if job.is_finished() {
        match job.join() {
            Err(JoinError::NotStarted(e)) => return Err(e),
            Err(JoinError::Panicked(p)) => std::panic::resume_unwind(p),
            Ok(()) | Err(JoinError::Cancelled) => {}
        }
    }
    Err(ParkRefused.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_need_no_lookup_and_names_do() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert!(matches!(target(&v4), Ok(Target::One(a)) if a == v4));
        assert!(matches!(target("127.0.0.1:80"), Ok(Target::One(a)) if a == v4));
        assert!(matches!(target(&"[::1]:443".to_owned()), Ok(Target::One(a)) if a == v6));
        assert!(matches!(target(&("::1", 443)), Ok(Target::One(a)) if a == v6));
        assert!(matches!(target(&(v4.ip(), 80)), Ok(Target::One(a)) if a == v4));
        let both = [v4, v6];
        assert!(matches!(target(&both[..]), Ok(Target::Many(v)) if v == both));
        assert!(matches!(
            target("localhost:8080"),
            Ok(Target::Host(h, 8080)) if h == "localhost"
        ));
        assert!(matches!(
            target(&(String::from("example.invalid"), 1)),
            Ok(Target::Host(h, 1)) if h == "example.invalid"
        ));
        assert!(matches!(
            target(&&"localhost:1"),
            Ok(Target::Host(h, 1)) if h == "localhost"
        ));
    }

    #[test]
    fn text_without_a_port_is_invalid_input() {
        for bad in [
            "localhost",
            "localhost:",
            "localhost:http",
            "localhost:70000",
        ] {
            let e = target(bad).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad}");
        }
    }
}
