//! `coro-sjlj`, `coro-ucontext`, `coro-asm` (one worker each) and
//! `coro-sjlj-mt` (`threads` workers): jmpco's runtime, one coroutine per
//! client written as blocking code — read a whole request, write it back,
//! until the client closes. Each worker has its own `SO_REUSEPORT`
//! listener; the kernel spreads connections among them.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Result;
use jmpco::rt::{Runtime, TcpStream};
use jmpco::Backend;

use crate::server::{Running, ServeConfig, Server, Started, Stats};

/// How long a stopping runtime lets live connections finish before it
/// cancels them (their stacks unwind, their sockets close).
const GRACE: Duration = Duration::from_millis(100);

/// The coroutine-per-client echo server on one backend.
pub struct Coro {
    name: &'static str,
    backend: Backend,
    multi_thread: bool,
}

impl Coro {
    /// `coro-sjlj`: the default switch, one worker. The echo baseline.
    pub const SJLJ: Coro = Coro::single("coro-sjlj", Backend::Sjlj);
    /// `coro-ucontext`: the notes' `swapcontext`, one worker.
    pub const UCONTEXT: Coro = Coro::single("coro-ucontext", Backend::Ucontext);
    /// `coro-asm`: the hand-written x86-64 switch, one worker.
    pub const ASM: Coro = Coro::single("coro-asm", Backend::Asm);
    /// `coro-sjlj-mt`: sjlj on `threads` workers.
    pub const SJLJ_MT: Coro = Coro {
        name: "coro-sjlj-mt",
        backend: Backend::Sjlj,
        multi_thread: true,
    };

    const fn single(name: &'static str, backend: Backend) -> Coro {
        Coro {
            name,
            backend,
            multi_thread: false,
        }
    }
}

/// A runtime of `workers` workers on `backend` serving `addr` with
/// `handler` per connection (`TCP_NODELAY` set first, as every contestant
/// does); stopping it shuts the runtime down with a short grace.
pub fn start<H>(backend: Backend, workers: usize, addr: SocketAddr, handler: H) -> Result<Started>
where
    H: Fn(TcpStream) + Send + Sync + 'static,
{
    let rt = Runtime::builder()
        .worker_threads(workers)
        .backend(backend)
        .thread_name("coro-worker")
        .build()?;
    let addr = rt.serve(addr, move |stream| {
        if stream.set_nodelay(true).is_ok() {
            handler(stream);
        }
    })?;
    Ok(Started {
        addr,
        running: Box::new(Stop(rt)),
    })
}

/// Workers of a contestant: one, or `threads` for the multi-threaded ones.
pub fn workers(multi_thread: bool, config: &ServeConfig) -> usize {
    if multi_thread {
        config.threads.max(1)
    } else {
        1
    }
}

impl Server for Coro {
    fn name(&self) -> &'static str {
        self.name
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        let size = config.size;
        let workers = workers(self.multi_thread, config);
        start(self.backend, workers, addr, move |mut stream| {
            let mut buf = vec![0u8; size];
            while stream.read_exact(&mut buf).is_ok() && stream.write_all(&buf).is_ok() {}
        })
    }
}

/// A running jmpco runtime; stopping it shuts it down.
struct Stop(Runtime);

impl Running for Stop {
    fn stop(self: Box<Self>) -> Stats {
        self.0.shutdown(GRACE);
        Stats::new()
    }
}
