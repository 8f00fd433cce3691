//! [`Builder`]: stack size, backend and stack source of a new coroutine.

use super::{Coroutine, Error, Yielder};
use crate::stack::{Stack, DEFAULT_STACK_SIZE};
use crate::switch::Backend;
use crate::{overflow, shadow_stack};

/// Configures and creates a [`Coroutine`].
///
/// ```
/// use jmpco::{Backend, Coroutine};
///
/// let mut co: Coroutine<(), u32, ()> = Coroutine::builder()
///     .stack_size(16 * 1024)
///     .backend(Backend::Ucontext)
///     .build(|yielder, ()| yielder.suspend(7))
///     .expect("a stack");
/// assert_eq!(co.resume(()).as_yield(), Some(7));
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    stack_size: usize,
    backend: Backend,
    pooled: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            stack_size: DEFAULT_STACK_SIZE,
            backend: Backend::default(),
            pooled: true,
        }
    }
}

impl Builder {
    /// Defaults: [`DEFAULT_STACK_SIZE`], [`Backend::Sjlj`], pooled stacks.
    pub fn new() -> Self {
        Self::default()
    }

    /// Usable bytes of stack, rounded up to whole pages; at least
    /// [`MIN_STACK_SIZE`](crate::stack::MIN_STACK_SIZE). Only the pages the
    /// body touches cost memory.
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// The switch the coroutine uses.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Whether the stack comes from (and returns to) this thread's pool
    /// (the default: no system call once warm), or is a mapping of its own,
    /// made now and unmapped on drop.
    pub fn pooled(mut self, pooled: bool) -> Self {
        self.pooled = pooled;
        self
    }

    /// Creates the coroutine; `body` starts at the first resume.
    ///
    /// Fails if no stack can be had (out of memory, or out of guard-page
    /// mappings under the mprotect fallback), if the stack is too small for
    /// the closure, or if the backend cannot run here (`sjlj` and `asm` under
    /// Intel CET shadow stacks).
    pub fn build<I, Y, R, F>(self, body: F) -> Result<Coroutine<I, Y, R>, Error>
    where
        I: 'static,
        Y: 'static,
        R: 'static,
        F: FnOnce(&Yielder<I, Y>, I) -> R + 'static,
    {
        shadow_stack::check(self.backend)?;
        overflow::install_for_this_thread()?;
        let stack = if self.pooled {
            Stack::pooled(self.stack_size)?
        } else {
            Stack::fresh(self.stack_size)?
        };
        Coroutine::from_stack(stack, self.backend, body)
    }
}
