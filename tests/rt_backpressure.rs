//! A client that never reads must not make the server's memory grow: the
//! server's write parks when the socket buffer is full, so it stops
//! reading, and the kernel's flow control stops the client. Alone in its
//! binary (and sequential) so the process RSS it checks is the server's.

mod rt_support;

use std::io::Write;
use std::time::Duration;

use jmpco::Backend;
use rt_support::{client, echo_server, rss_kib, watchdog};

#[test]
fn client_that_never_reads_is_held_back_by_backpressure() {
    for backend in Backend::ALL {
        for workers in [1, 2] {
            never_reads(backend, workers);
        }
    }
}

fn never_reads(b: Backend, w: usize) {
    watchdog(60, "backpressure", || {
        let (rt, addr) = echo_server(w, b);
        let before = rss_kib();
        let mut s = client(addr);
        s.set_write_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let chunk = vec![0x5au8; 256 * 1024];
        let mut sent = 0usize;
        while sent < 128 << 20 {
            match s.write(&chunk) {
                Ok(n) => sent += n,
                Err(e) => {
                    assert!(
                        matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ),
                        "{e}"
                    );
                    break;
                }
            }
        }
        let grown = rss_kib().saturating_sub(before);
        // Socket buffers (both directions, both ends) hold a few MiB; an
        // unbounded server would have taken all 128 MiB.
        assert!(sent < 48 << 20, "the server accepted {sent} bytes");
        assert!(grown < 32 * 1024, "RSS grew by {grown} KiB");
        rt.shutdown(Duration::ZERO);
    });
}
