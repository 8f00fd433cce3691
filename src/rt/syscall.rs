//! `syscall!`: call a libc function and turn its `-1` into [`std::io::Error`].
//!
//! Every system call of the runtime goes through this macro, so the error
//! convention lives in one place: a return value of `-1` becomes
//! `Err(io::Error::last_os_error())`, anything else is `Ok(value)`.

/// `syscall!(name(args..))`: calls `libc::name(args..)`; `-1` becomes
/// `Err(io::Error::last_os_error())`.
///
/// The call is made in an `unsafe` block, so each use site must say why its
/// arguments are valid in a `// SAFETY:` comment above the macro.
macro_rules! syscall {
    ($fn: ident ( $($arg: expr),* $(,)? )) => {{
        // SAFETY: the use site's own `// SAFETY:` comment shows that the
        // arguments are valid for this call.
        let res = unsafe { libc::$fn($($arg),*) };
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}

pub(crate) use syscall;
