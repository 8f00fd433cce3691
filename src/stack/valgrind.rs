//! Valgrind stack registration (`--features valgrind`): each [`Stack`](super::Stack)
//! registers its usable range with `VALGRIND_STACK_REGISTER` while it has an owner, so
//! memcheck understands coroutine switches. Without the feature, [`StackRegistration`] is an
//! empty type and costs nothing.
//!
//! The client requests live in `csrc/valgrind_stack.c` (built only with the feature); its
//! three functions are declared here by hand rather than in the bindgen output, so the
//! committed bindings stay independent of the feature.

#[cfg(feature = "valgrind")]
mod imp {
    use std::ffi::{c_uint, c_void};

    extern "C" {
        fn jmpco_valgrind_stack_register(lo: *mut c_void, hi: *mut c_void) -> c_uint;
        fn jmpco_valgrind_stack_deregister(id: c_uint);
        fn jmpco_valgrind_make_undefined(lo: *mut c_void, len: usize);
    }

    /// Tells memcheck that `[lo, hi)` is stack memory about to be reused:
    /// addressable, contents undefined.
    pub(crate) fn make_undefined(lo: usize, hi: usize) {
        // SAFETY: a client request only updates memcheck's shadow state.
        unsafe { jmpco_valgrind_make_undefined(lo as *mut c_void, hi - lo) }
    }

    /// A stack range known to Valgrind until this is dropped.
    pub(crate) struct StackRegistration(c_uint);

    impl StackRegistration {
        pub(crate) fn new(bottom: usize, top: usize) -> Self {
            make_undefined(bottom, top);
            // SAFETY: a client request only records the range; it touches no memory.
            StackRegistration(unsafe {
                jmpco_valgrind_stack_register(bottom as *mut c_void, top as *mut c_void)
            })
        }
    }

    impl Drop for StackRegistration {
        fn drop(&mut self) {
            // SAFETY: the id came from jmpco_valgrind_stack_register and is dropped once.
            unsafe { jmpco_valgrind_stack_deregister(self.0) }
        }
    }
}

#[cfg(not(feature = "valgrind"))]
mod imp {
    /// Without the `valgrind` feature: nothing to register.
    pub(crate) struct StackRegistration;

    impl StackRegistration {
        #[inline(always)]
        pub(crate) fn new(_bottom: usize, _top: usize) -> Self {
            StackRegistration
        }
    }

    /// Without the `valgrind` feature: nothing to do.
    #[inline(always)]
    pub(crate) fn make_undefined(_lo: usize, _hi: usize) {}
}

pub(crate) use imp::{make_undefined, StackRegistration};
