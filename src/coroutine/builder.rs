//! [`Builder`]: stack size, backend and stack source of a new coroutine.
//!
//! Only the configuration: [`Builder::build`], which makes the
//! [`Coroutine`](crate::Coroutine), is in `mod.rs` beside the coroutine's
//! constructor, so that this file and `mod.rs` do not import each other.

use crate::stack::DEFAULT_STACK_SIZE;
use crate::switch::Backend;

/// Configures and creates a [`Coroutine`](crate::Coroutine).
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
    pub(super) stack_size: usize,
    pub(super) backend: Backend,
    pub(super) pooled: bool,
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
}
