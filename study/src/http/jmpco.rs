//! `coro-sjlj` (one worker) and `coro-sjlj-mt` (`threads` workers): the
//! keep-alive hello server on jmpco's runtime, one coroutine per
//! connection. A read may hold part of a request or several (pipelining):
//! every complete request in the buffer is answered, in one write, and a
//! partial one waits for the next read.

use std::io::{Read, Write};
use std::net::SocketAddr;

use anyhow::Result;
use jmpco::rt::TcpStream;
use jmpco::Backend;

use super::{count_requests, RESPONSE};
use crate::echo::coro;
use crate::server::{ServeConfig, Server, Started};

/// The jmpco hello server, on one worker or several.
pub struct Coro {
    multi_thread: bool,
}

impl Coro {
    /// `coro-sjlj`: one worker.
    pub const SJLJ: Coro = Coro {
        multi_thread: false,
    };
    /// `coro-sjlj-mt`: `threads` workers.
    pub const SJLJ_MT: Coro = Coro { multi_thread: true };
}

impl Server for Coro {
    fn name(&self) -> &'static str {
        if self.multi_thread {
            "coro-sjlj-mt"
        } else {
            "coro-sjlj"
        }
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        let workers = coro::workers(self.multi_thread, config);
        coro::start(Backend::Sjlj, workers, addr, serve)
    }
}

/// One connection, until the client closes it or sends a header larger
/// than the buffer (not a hello client).
fn serve(mut stream: TcpStream) {
    let (mut buf, mut filled) = (vec![0u8; 4096], 0);
    let mut out = Vec::new();
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => filled += n,
        }
        let (requests, used) = count_requests(&buf[..filled]);
        buf.copy_within(used..filled, 0);
        filled -= used;
        out.clear();
        for _ in 0..requests {
            out.extend_from_slice(RESPONSE);
        }
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}
