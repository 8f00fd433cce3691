//! The C API's exports called from Rust, where C and Rust-API coroutines mix:
//! `jmpco_yield` and `jmpco_current` only see C coroutines, and C coroutines
//! nest inside Rust ones.

use std::ffi::c_void;
use std::ptr;

use jmpco::ffi::{
    jmpco_create, jmpco_current, jmpco_destroy, jmpco_resume, jmpco_state, jmpco_status,
    jmpco_yield, JMPCO_ENOTCORO, JMPCO_OK,
};
use jmpco::{Coroutine, CoroutineResult};

/// A C-ABI body that yields its argument once and returns it doubled.
unsafe extern "C" fn yield_then_double(arg: *mut c_void) -> *mut c_void {
    // SAFETY: NULL is allowed for resumed_with.
    let rc = unsafe { jmpco_yield(arg, ptr::null_mut()) };
    assert_eq!(rc, JMPCO_OK);
    (arg as usize * 2) as *mut c_void
}

#[test]
fn yield_inside_a_rust_api_coroutine_is_enotcoro() {
    let mut co: Coroutine<(), (), (i32, bool)> = Coroutine::new(|_, ()| {
        // SAFETY: NULL is allowed for resumed_with.
        let rc = unsafe { jmpco_yield(ptr::null_mut(), ptr::null_mut()) };
        (rc, jmpco_current().is_null())
    });
    assert_eq!(
        co.resume(()),
        CoroutineResult::Return((JMPCO_ENOTCORO, true))
    );
}

#[test]
fn c_coroutine_runs_nested_inside_a_rust_api_coroutine() {
    let mut outer: Coroutine<(), usize, usize> = Coroutine::new(|yielder, ()| {
        let mut c = ptr::null_mut();
        // SAFETY: valid out pointer and body; NULL options mean defaults.
        let rc = unsafe {
            jmpco_create(
                &mut c,
                Some(yield_then_double),
                21 as *mut c_void,
                ptr::null(),
            )
        };
        assert_eq!(rc, JMPCO_OK);
        let mut out = ptr::null_mut();
        // SAFETY: `c` is a live handle of this thread.
        let rc = unsafe { jmpco_resume(c, ptr::null_mut(), &mut out) };
        assert_eq!(rc, JMPCO_OK);
        // The Rust coroutine suspends while the C one is suspended inside it.
        yielder.suspend(out as usize);
        // SAFETY: as above.
        let rc = unsafe { jmpco_resume(c, ptr::null_mut(), &mut out) };
        assert_eq!(rc, JMPCO_OK);
        // SAFETY: as above.
        assert_eq!(unsafe { jmpco_status(c) }, jmpco_state::JMPCO_TERM);
        // SAFETY: finished, not used again.
        assert_eq!(unsafe { jmpco_destroy(c) }, JMPCO_OK);
        out as usize
    });
    assert_eq!(outer.resume(()), CoroutineResult::Yield(21));
    assert!(jmpco_current().is_null());
    assert_eq!(outer.resume(()), CoroutineResult::Return(42));
}

/// The registered I/O calls hand NULL buffers and addresses to the kernel,
/// which answers `EFAULT`, as the header says (checked here, not in
/// `tests/c/fdio_test.c`, because memcheck reports such a call itself).
#[test]
fn registered_io_with_null_buffers_fails_with_efault() {
    use jmpco::ffi::{jmpco_close, jmpco_connect, jmpco_read, jmpco_write};
    use std::io::Write;
    use std::os::fd::IntoRawFd;
    let errno = || std::io::Error::last_os_error().raw_os_error();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().expect("socketpair");
    b.write_all(b"x").expect("write");
    let fd = a.into_raw_fd();
    // SAFETY: NULL buffers are the point: the kernel checks them.
    unsafe {
        assert_eq!(jmpco_read(fd, ptr::null_mut(), 1, 1000), -1);
        assert_eq!(errno(), Some(libc::EFAULT));
        assert_eq!(jmpco_write(fd, ptr::null(), 1, 1000), -1);
        assert_eq!(errno(), Some(libc::EFAULT));
    }
    assert_eq!(jmpco_close(fd), 0);
    let s = std::net::TcpListener::bind("127.0.0.1:0").expect("a socket");
    let fd = s.into_raw_fd();
    // SAFETY: as above.
    unsafe {
        assert_eq!(jmpco_connect(fd, ptr::null(), 16, 1000), -1);
        assert_eq!(errno(), Some(libc::EFAULT));
    }
    assert_eq!(jmpco_close(fd), 0);
}
