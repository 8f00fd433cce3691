//! The operating-system layer of the study, one private file per concern:
//! every `epoll_*` call in [`epoll`], CPU pinning in [`affinity`], `/proc`
//! and clock readings in [`procfs`].

pub mod affinity;
pub mod epoll;
pub mod procfs;

/// Turns a libc return value of -1 into the thread's `errno` as an error.
pub(crate) fn check(rc: libc::c_int) -> std::io::Result<libc::c_int> {
    if rc == -1 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}
