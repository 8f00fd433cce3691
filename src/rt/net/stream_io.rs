//! `Read` and `Write` for the parking streams ([`TcpStream`](super::TcpStream),
//! [`UnixStream`](super::UnixStream)), written once.
//!
//! Each operation tries the non-blocking std call and, if it would block,
//! parks the task until the fd is ready or the stream's timeout passes
//! (`Registration::io`). The `drained` predicates tell `io` when a success
//! shows the fd drained for now -- a short read (the kernel had no more
//! data) or a short write (no more room) -- so it clears the readiness bit
//! and the next call waits for a new edge instead of making a system call
//! only to get `EAGAIN`. `&T` gets the real impls so one task can read
//! while another writes; `T` forwards to them.

/// Implements `Read` and `Write` for `&$ty` and `$ty`. `$ty` must have the
/// fields `reg: Registration`, `inner` (a std stream, `Read + Write` through
/// a shared reference), `read_timeout` and `write_timeout`
/// (`Cell<Option<Duration>>`).
macro_rules! parking_stream_io {
    ($ty:ty) => {
        impl std::io::Read for &$ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let len = buf.len();
                let mut inner = &self.inner;
                let op = || std::io::Read::read(&mut inner, buf);
                self.reg.io(
                    $crate::rt::Interest::READABLE,
                    self.read_timeout.get(),
                    op,
                    |&n| n > 0 && n < len,
                )
            }
        }

        impl std::io::Write for &$ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                let len = buf.len();
                let mut inner = &self.inner;
                let op = || std::io::Write::write(&mut inner, buf);
                self.reg.io(
                    $crate::rt::Interest::WRITABLE,
                    self.write_timeout.get(),
                    op,
                    |&n| n < len,
                )
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                let len: usize = bufs.iter().map(|b| b.len()).sum();
                let mut inner = &self.inner;
                let op = || std::io::Write::write_vectored(&mut inner, bufs);
                self.reg.io(
                    $crate::rt::Interest::WRITABLE,
                    self.write_timeout.get(),
                    op,
                    |&n| n < len,
                )
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Read for $ty {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                std::io::Read::read(&mut &*self, buf)
            }
        }

        impl std::io::Write for $ty {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                std::io::Write::write(&mut &*self, buf)
            }

            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                std::io::Write::write_vectored(&mut &*self, bufs)
            }

            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

pub(crate) use parking_stream_io;
