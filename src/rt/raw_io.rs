//! Blocking-style I/O on raw fds that the caller hands over for their whole
//! life (the C API's registered I/O, `jmpco_read` and friends): read, write,
//! accept, connect and close, each with the result the blocking call would
//! give, parking only the calling task.
//!
//! # One registration per fd
//! Each thread keeps a table of the fds these functions have seen, indexed
//! by fd number: what kind of file it is (a stream socket or a FIFO, whose
//! short reads and writes show it drained; a socket, which is written with
//! `MSG_NOSIGNAL`) and its registration with the scheduler of the thread.
//! The registration is made by the first call that would block (through
//! [`Scheduler::acquire_fd`], so it shares one that a [`wait_fd`] or a jmpco
//! socket already made) and kept until [`close`] drops it. Every call tries
//! the system call first and waits only on `EAGAIN`; a call that finds the
//! readiness bit clear (a short read or write, or an `EAGAIN`, since the
//! last edge) parks without a system call, as the jmpco streams do
//! (`io.rs`). So a call with data waiting is one system call, and a call
//! that must wait costs no `epoll_ctl`.
//!
//! On first sight an fd is made non-blocking (`O_NONBLOCK` stays set on its
//! open file; a blocking fd would block the thread, not the task); sockets
//! are also read and written with `MSG_DONTWAIT`, so even a file that took
//! a closed fd's number behind the table's back never blocks the thread.
//! An fd [`accept`] returns is entered as already seen, with its
//! listener's kind.
//!
//! # What the table cannot see
//! An fd closed with plain `close(2)` keeps its entry, and its number's
//! next file inherits it. [`accept`] and [`connect`] start a fresh entry
//! for their fd (the kernel just gave out the number, or a connection
//! begins), [`Scheduler::acquire_fd`] checks a registration it finds with
//! `epoll_ctl(MOD)` before it shares one, and an `EAGAIN` on a
//! registration whose sticky "closed" bit is set (a closed file never says
//! `EAGAIN`) shows it stale, so it is replaced. But a read or write on a
//! reused number whose inherited registration has its bits clear waits for
//! edges that registration never reports, until its timeout. The C API's
//! docs forbid closing a registered fd any other way.
//!
//! Each thread has its own table and scheduler: an fd used from two
//! threads is registered with both.
//!
//! # Outside a task
//! A plain thread (or a coroutine nested in a task) gets the blocking call:
//! it waits in `poll(2)`, and if the fd is registered with the thread's
//! running scheduler, the bits are set afterwards (see `io.rs`).
//!
//! # Parks
//! Nothing on these frames owns anything across a park (the table is
//! borrowed only between parks; keys and `Copy` values otherwise), so a C
//! task parked here can be abandoned, and a cancelled Rust task unwound.

use std::cell::RefCell;
use std::ffi::c_int;
use std::io;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::time::Instant;

use super::arena::Key;
use super::io::blocking_io;
use super::local;
use super::reactor::Interest;
use super::scheduler::{with_scheduler, with_task, ParkRefused, Scheduler};
use super::syscall::syscall;
use super::task::{is_deadline_unwind, stop_deadline_unwind};
use crate::coroutine::is_cancellation;

/// `send` flags: no `SIGPIPE`, and never blocking, even if the file under
/// the number is not the one probed (see the module docs).
const SEND_FLAGS: c_int = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;

/// What a table entry knows about one fd.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// A stream socket or a FIFO: a short read or write means the kernel
    /// had no more data or room, so the readiness bit may be cleared.
    stream: bool,
    /// A socket: written with `send(MSG_NOSIGNAL)`, read with `recv`, both
    /// with `MSG_DONTWAIT`.
    socket: bool,
    /// The scheduler it is registered with (by id) and its key there.
    reg: Option<(u64, Key)>,
}

thread_local! {
    /// This thread's entries, by fd number.
    static TABLE: RefCell<Vec<Option<Entry>>> = const { RefCell::new(Vec::new()) };
}

fn lookup(fd: RawFd) -> Option<Entry> {
    TABLE.with(|t| t.borrow().get(fd as usize).copied().flatten())
}

fn store(fd: RawFd, entry: Option<Entry>) {
    TABLE.with(|t| {
        let mut table = t.borrow_mut();
        let at = fd as usize;
        if table.len() <= at {
            if entry.is_none() {
                return;
            }
            table.resize(at + 1, None);
        }
        table[at] = entry;
    });
}

/// The entry for `fd`, made on first sight: the fd is probed and made
/// non-blocking. `EBADF` if it is negative or not open.
fn entry(fd: RawFd) -> io::Result<Entry> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    if let Some(entry) = lookup(fd) {
        return Ok(entry);
    }
    let entry = probe(fd)?;
    store(fd, Some(entry));
    Ok(entry)
}

/// Finds out what `fd` is and sets `O_NONBLOCK` on it.
fn probe(fd: RawFd) -> io::Result<Entry> {
    // SAFETY: F_GETFL takes no pointer; a bad fd is EBADF.
    let flags = syscall!(fcntl(fd, libc::F_GETFL))?;
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: F_SETFL takes an int of flags.
        syscall!(fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK))?;
    }
    let mut ty: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: `ty` and `len` are live and `len` is `ty`'s size.
    let socket = syscall!(getsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_TYPE,
        std::ptr::from_mut(&mut ty).cast(),
        &mut len,
    ));
    match socket {
        Ok(_) => Ok(Entry {
            stream: ty == libc::SOCK_STREAM,
            socket: true,
            reg: None,
        }),
        Err(e) if e.raw_os_error() == Some(libc::ENOTSOCK) => {
            // SAFETY: an all-zero `stat` is a valid value to be overwritten.
            let mut st: libc::stat = unsafe { std::mem::zeroed() };
            // SAFETY: `st` is a live, writable `stat`.
            syscall!(fstat(fd, &mut st))?;
            Ok(Entry {
                stream: st.st_mode & libc::S_IFMT == libc::S_IFIFO,
                socket: false,
                reg: None,
            })
        }
        Err(e) => Err(e),
    }
}

/// Runs the non-blocking `op` on `fd` until it does not fail with
/// `WouldBlock`, waiting for `interest` between attempts, until `deadline`
/// (`TimedOut`). `drained(&value)`: a success that shows a stream drained.
fn io<T>(
    fd: RawFd,
    interest: Interest,
    deadline: Option<Instant>,
    mut op: impl FnMut(Entry) -> io::Result<T>,
    drained: impl Fn(&T) -> bool,
) -> io::Result<T> {
    let first = entry(fd)?;
    with_task(|task| match task {
        Some((sched, task)) => in_task(sched, task, fd, first, interest, deadline, op, drained),
        None => {
            let result = blocking_io(fd, interest, || deadline, || op(first));
            mark_ready_if_registered(fd, interest);
            result
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn in_task<T>(
    sched: &Scheduler,
    task: Key,
    fd: RawFd,
    first: Entry,
    interest: Interest,
    deadline: Option<Instant>,
    mut op: impl FnMut(Entry) -> io::Result<T>,
    drained: impl Fn(&T) -> bool,
) -> io::Result<T> {
    let mut entry = first;
    loop {
        let key = entry
            .reg
            .and_then(|(id, key)| (id == sched.id()).then_some(key));
        let mut known_unready = key.is_some_and(|k| sched.is_ready(k, interest) == Some(false));
        if known_unready && deadline.is_some_and(|d| Instant::now() >= d) {
            // Out of time (a timeout of 0, say): ask the kernel before saying
            // `EAGAIN`, since an edge may be waiting for the loop's next poll.
            known_unready = false;
        }
        if !known_unready {
            match op(entry) {
                Ok(v) => {
                    if let Some(k) = key.filter(|_| entry.stream && drained(&v)) {
                        sched.clear_ready(k, interest);
                    }
                    return Ok(v);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        let mut key = match key.filter(|&k| sched.is_ready(k, interest).is_some()) {
            Some(k) => k,
            None => register(sched, fd, &mut entry)?,
        };
        // `op` just saw `EAGAIN` (or the bit was clear already): any edge
        // after it reaches the loop's next `epoll_wait`, which runs only once
        // this task has parked.
        sched.clear_ready(key, interest);
        if sched.is_ready(key, interest) == Some(true) {
            // Still ready: the sticky "closed" bit, yet `EAGAIN`, which a
            // closed stream never says. So the fd was closed behind our back
            // and its number went to a new file (or the error was a
            // datagram socket's, reported and cleared since): the bits are
            // stale, and waiting on them would return at once, forever. A
            // fresh registration learns the file's state anew.
            sched.deregister(key);
            key = register(sched, fd, &mut entry)?;
        }
        match sched.wait_ready(key, task, interest, deadline) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::TimedOut || ParkRefused::is(&e) => return Err(e),
            // The registration is gone: `close` dropped it while we waited
            // (or the number went to another file).
            Err(_) => return Err(io::Error::from_raw_os_error(libc::EBADF)),
        }
        // Still ours? `close` may have run while we were parked.
        match lookup(fd) {
            Some(e) if e.reg == entry.reg => entry = e,
            _ => return Err(io::Error::from_raw_os_error(libc::EBADF)),
        }
    }
}

/// Registers `fd` with `sched` for the rest of its life, recording the key
/// in `entry` and the table.
fn register(sched: &Scheduler, fd: RawFd, entry: &mut Entry) -> io::Result<Key> {
    let key = sched.acquire_fd(fd)?;
    entry.reg = Some((sched.id(), key));
    store(fd, Some(*entry));
    Ok(key)
}

/// I/O made outside the task on an fd registered with the running
/// scheduler may have left data or room that no new edge will announce:
/// set the bits so the task's next call asks the kernel.
fn mark_ready_if_registered(fd: RawFd, interest: Interest) {
    with_scheduler(|sched| {
        let Some(sched) = sched else { return };
        if let Some((id, key)) = lookup(fd).and_then(|e| e.reg) {
            if id == sched.id() {
                sched.mark_ready(key, interest);
            }
        }
    });
}

/// `read(2)` (`recv` on a socket) into `buf[..len]`, waiting while there is
/// nothing to read: the byte count, 0 at EOF.
///
/// # Safety
/// `buf` is valid for writes of `len` bytes (or the kernel reports
/// `EFAULT`: it checks user pointers, but a pointer to the wrong live
/// memory is written to).
pub(crate) unsafe fn read(
    fd: RawFd,
    buf: *mut u8,
    len: usize,
    deadline: Option<Instant>,
) -> io::Result<usize> {
    if len == 0 {
        // As read(2) of 0 bytes: 0 at once, even if nothing is there.
        return entry(fd).map(|_| 0);
    }
    let op = |e: Entry| {
        let n = if e.socket {
            // SAFETY: `buf[..len]` is writable (the caller's contract).
            syscall!(recv(fd, buf.cast(), len, libc::MSG_DONTWAIT))?
        } else {
            // SAFETY: as above.
            syscall!(read(fd, buf.cast(), len))?
        };
        Ok(n as usize)
    };
    io(fd, Interest::READABLE, deadline, op, |&n| n > 0 && n < len)
}

/// Writes all of `buf[..len]` (`send(MSG_NOSIGNAL)` on a socket, so a reset
/// peer gives `EPIPE`, never `SIGPIPE`), waiting while there is no room.
/// An error, the deadline or a refused park after some bytes were written
/// ends it with their count, and so does an unwind out of a park (a Rust
/// task's cancellation or `rt::timeout` deadline), which stops here; with
/// none written, with the error (or the unwind goes on).
///
/// # Safety
/// `buf` is valid for reads of `len` bytes (as for [`read`]).
pub(crate) unsafe fn write(
    fd: RawFd,
    buf: *const u8,
    len: usize,
    deadline: Option<Instant>,
) -> io::Result<usize> {
    if len == 0 {
        return entry(fd).map(|_| 0);
    }
    let mut done = 0;
    while done < len {
        // SAFETY: `done < len`, so the rest lies inside `buf[..len]`.
        let rest = unsafe { buf.add(done) };
        let want = len - done;
        let op = |e: Entry| {
            let n = if e.socket {
                // SAFETY: `rest[..want]` is readable (the caller's contract).
                syscall!(send(fd, rest.cast(), want, SEND_FLAGS))?
            } else {
                // SAFETY: as above.
                syscall!(write(fd, rest.cast(), want))?
            };
            Ok(n as usize)
        };
        // A Rust task cancelled while parked here, or whose `rt::timeout`
        // deadline passes, unwinds from the park point; after some bytes
        // went out, the unwind stops here so that the count is reported
        // (the task stays cancelling: its next wait is refused; the
        // deadline's frame stays armed: its next park fires it). With none
        // written it goes on, to the C export.
        let step = panic::catch_unwind(AssertUnwindSafe(|| {
            io(fd, Interest::WRITABLE, deadline, op, |&n| n < want)
        }));
        match step {
            Ok(Ok(n)) => done += n,
            Ok(Err(_)) if done > 0 => break,
            Ok(Err(e)) => return Err(e),
            Err(payload) if done > 0 && is_cancellation(&payload) => break,
            Err(payload) if done > 0 && is_deadline_unwind(payload.as_ref()) => {
                stop_deadline_unwind();
                break;
            }
            Err(payload) => panic::resume_unwind(payload),
        }
    }
    Ok(done)
}

/// `accept4(SOCK_NONBLOCK | SOCK_CLOEXEC)`, waiting while no connection is
/// pending: the new fd, entered in the table as seen (its listener's kind,
/// a fresh registration on its first wait).
///
/// # Safety
/// `addr` and `addrlen` are both NULL, or `addrlen` points to a readable
/// and writable `socklen_t` and `addr` to that many writable bytes.
pub(crate) unsafe fn accept(
    fd: RawFd,
    addr: *mut libc::sockaddr,
    addrlen: *mut libc::socklen_t,
    deadline: Option<Instant>,
) -> io::Result<RawFd> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: `addr` and `addrlen` are as the caller's contract says.
    let op = |_: Entry| syscall!(accept4(fd, addr, addrlen, flags));
    let new = io(fd, Interest::READABLE, deadline, op, |_| false)?;
    let listener = lookup(fd).unwrap_or(Entry {
        stream: true,
        socket: true,
        reg: None,
    });
    // The kernel just gave out the number: whatever entry it had is stale
    // (its fd was closed with close(2)); the registration it named is
    // checked and forgotten by `acquire_fd` on the first wait.
    store(
        new,
        Some(Entry {
            reg: None,
            ..listener
        }),
    );
    Ok(new)
}

/// `connect(2)`, waiting for the connection to complete: `Ok` once it is
/// established, the connection's error (`SO_ERROR`) if it failed,
/// `TimedOut` at the deadline (the attempt goes on in the kernel). The fd
/// gets a fresh entry.
///
/// # Safety
/// `addr` points to `len` readable bytes (as for [`read`]).
pub(crate) unsafe fn connect(
    fd: RawFd,
    addr: *const libc::sockaddr,
    len: libc::socklen_t,
    deadline: Option<Instant>,
) -> io::Result<()> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // A connection starts here: a kept entry may be a closed file's (its
    // registration is checked and forgotten by `acquire_fd` on the first
    // wait).
    store(fd, Some(probe(fd)?));
    // SAFETY: `addr[..len]` is readable (the caller's contract).
    match syscall!(connect(fd, addr, len)) {
        Ok(_) => return Ok(()),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) => {}
        Err(e) => return Err(e),
    }
    // In progress: wait for writable (established, or failed), then ask.
    let mut waited = false;
    let op = |_: Entry| {
        if !waited {
            // The first attempt: connect(2) has just said "in progress".
            waited = true;
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(())
    };
    io(fd, Interest::WRITABLE, deadline, op, |_| false)?;
    let mut err: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
    // SAFETY: `err` and `len` are live and `len` is `err`'s size.
    syscall!(getsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ERROR,
        std::ptr::from_mut(&mut err).cast(),
        &mut len,
    ))?;
    match err {
        0 => Ok(()),
        e => Err(io::Error::from_raw_os_error(e)),
    }
}

/// Drops `fd`'s entry and its registration (waiters wake and fail with
/// `EBADF`), then `close(2)`s it.
pub(crate) fn close(fd: RawFd) -> io::Result<()> {
    if fd < 0 {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    if let Some((id, key)) = lookup(fd).and_then(|e| e.reg) {
        let dropped = with_scheduler(|running| match running {
            Some(sched) if sched.id() == id => {
                sched.deregister(key);
                true
            }
            _ => false,
        });
        if !dropped {
            // Not running now (a plain thread between `jmpco_run`s): then
            // nothing waits on it.
            if let Some(sched) = local::made_here().filter(|s| s.id() == id) {
                sched.deregister(key);
            }
        }
    }
    store(fd, None);
    // SAFETY: close takes no pointer; a bad fd is EBADF.
    syscall!(close(fd)).map(drop)
}
