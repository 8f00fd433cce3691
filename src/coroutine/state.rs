//! The small value types of the coroutine API: states, results, ids, errors.

use std::fmt;
use std::io;
use std::num::NonZeroU64;

/// Where a coroutine is in its life: the seed notes' five states.
///
/// ```text
///            resume               suspend
///   Ready ----------> Exec <------------------> Hold
///     ^                | \        resume
///     |          return|  \panic
///     |                v   v
///     +--- reset ---- Term  Except
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Created (or reset) and not yet started; the first `resume` starts it.
    Ready,
    /// Running: it is the current coroutine or an ancestor of it.
    Exec,
    /// Suspended in `Yielder::suspend`, waiting for the next `resume`.
    Hold,
    /// Its body returned; only `reset` can run it again.
    Term,
    /// Its body panicked; the panic went to the resumer. Only `reset` can
    /// run it again.
    Except,
}

impl State {
    /// True for `Term` and `Except`: the body has ended.
    #[inline]
    pub fn is_finished(self) -> bool {
        matches!(self, State::Term | State::Except)
    }

    /// True for `Ready` and `Hold`: `resume` may continue it.
    #[inline]
    pub fn is_resumable(self) -> bool {
        matches!(self, State::Ready | State::Hold)
    }
}

/// What one `resume` gives back: a suspended value or the body's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoroutineResult<Y, R> {
    /// The body called `Yielder::suspend(value)` and waits in `Hold`.
    Yield(Y),
    /// The body returned `value`; the coroutine is `Term`.
    Return(R),
}

impl<Y, R> CoroutineResult<Y, R> {
    /// The yielded value, if this is a `Yield`.
    pub fn as_yield(self) -> Option<Y> {
        match self {
            CoroutineResult::Yield(y) => Some(y),
            CoroutineResult::Return(_) => None,
        }
    }

    /// The returned value, if this is a `Return`.
    pub fn as_return(self) -> Option<R> {
        match self {
            CoroutineResult::Yield(_) => None,
            CoroutineResult::Return(r) => Some(r),
        }
    }
}

/// A coroutine's identity, unique in the process and never zero. It stays
/// the same across `reset`. Ids say nothing of the order coroutines were
/// created in: each is drawn when first asked for (`Coroutine::id`,
/// `current`, an overflow report), so creating a coroutine costs no
/// shared counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoroutineId(pub(crate) NonZeroU64);

impl CoroutineId {
    /// The id as a number.
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }
}

impl fmt::Display for CoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a coroutine operation was refused. Refusals change nothing.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// `resume` of a coroutine whose body has ended (`Term` or `Except`).
    Finished(State),
    /// `resume` of a coroutine that is running: itself, or an ancestor of
    /// the current coroutine. Safe Rust cannot get there (the running
    /// coroutine's handle is borrowed by the `resume` that runs it); the C
    /// API, which can, refuses it as `JMPCO_EBUSY`.
    Running,
    /// `reset` of a coroutine whose body has not ended.
    NotFinished(State),
    /// Its stack or context could not be set up (out of memory, out of
    /// guard-page mappings, or a closure too big for the stack).
    Io(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Finished(s) => write!(f, "cannot resume a finished coroutine (state {s:?})"),
            Error::Running => {
                f.write_str("cannot resume a running coroutine (itself or an ancestor)")
            }
            Error::NotFinished(s) => {
                write!(
                    f,
                    "cannot reset a coroutine that has not finished (state {s:?})"
                )
            }
            Error::Io(e) => write!(f, "cannot set up a coroutine: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}
