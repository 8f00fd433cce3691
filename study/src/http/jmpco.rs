//! `coro-sjlj`, `coro-asm` (one worker each) and `coro-sjlj-mt` (`threads`
//! workers): the keep-alive hello server on jmpco's runtime, one coroutine
//! per connection. Each read's complete requests are answered in one write
//! ([`Session`]: the parser every http contestant shares), a partial one
//! waits for the next read.

use std::io::{Read, Write};
use std::net::SocketAddr;

use anyhow::Result;
use jmpco::rt::TcpStream;
use jmpco::Backend;

use super::request::{Session, Then};
use crate::echo::coro;
use crate::server::{ServeConfig, Server, Started};

/// The jmpco hello server on one backend, on one worker or several.
pub struct Coro {
    name: &'static str,
    backend: Backend,
    multi_thread: bool,
}

impl Coro {
    /// `coro-sjlj`: one worker. The http baseline.
    pub const SJLJ: Coro = Coro {
        name: "coro-sjlj",
        backend: Backend::Sjlj,
        multi_thread: false,
    };
    /// `coro-asm`: the hand-written x86-64 switch, one worker.
    pub const ASM: Coro = Coro {
        name: "coro-asm",
        backend: Backend::Asm,
        multi_thread: false,
    };
    /// `coro-sjlj-mt`: `threads` workers.
    pub const SJLJ_MT: Coro = Coro {
        name: "coro-sjlj-mt",
        backend: Backend::Sjlj,
        multi_thread: true,
    };
}

impl Server for Coro {
    fn name(&self) -> &'static str {
        self.name
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        let workers = coro::workers(self.multi_thread, config);
        coro::start(self.backend, workers, addr, serve)
    }
}

/// One connection, until the client closes it or an answer closes it.
fn serve(mut stream: TcpStream) {
    let mut session = Session::new();
    loop {
        let n = match stream.read(session.spare()) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let (out, then) = session.received(n);
        if stream.write_all(out).is_err() || then == Then::Close {
            return;
        }
    }
}
