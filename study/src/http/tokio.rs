//! `tokio` and `tokio-mt` serving the runtime's `http_hello`: a keep-alive
//! HTTP/1.1 server answering every request with `Hello, world!`. As in
//! `coro-sjlj`'s, every complete request a read brings (pipelining) is
//! answered in one write.

use std::net::SocketAddr;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{count_requests, RESPONSE};
use crate::echo::tokio::spawn_server;
use crate::server::{ServeConfig, Server, Started};

/// The tokio hello server on one runtime flavour.
pub struct Tokio {
    multi_thread: bool,
}

impl Tokio {
    /// `tokio`: the current-thread runtime.
    pub const CURRENT_THREAD: Tokio = Tokio {
        multi_thread: false,
    };
    /// `tokio-mt`: the multi-thread runtime.
    pub const MULTI_THREAD: Tokio = Tokio { multi_thread: true };
}

impl Server for Tokio {
    fn name(&self) -> &'static str {
        if self.multi_thread {
            "tokio-mt"
        } else {
            "tokio"
        }
    }

    fn start(&self, addr: SocketAddr, config: &ServeConfig) -> Result<Started> {
        spawn_server(
            self.multi_thread,
            addr,
            config.threads,
            |mut stream| async move {
                let mut buf = vec![0u8; 4096];
                let mut filled = 0;
                let mut out = Vec::new();
                loop {
                    let Ok(n) = stream.read(&mut buf[filled..]).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    filled += n;
                    let (requests, used) = count_requests(&buf[..filled]);
                    buf.copy_within(used..filled, 0);
                    filled -= used;
                    if filled == buf.len() {
                        return; // a header larger than the buffer: not a hello client
                    }
                    out.clear();
                    for _ in 0..requests {
                        out.extend_from_slice(RESPONSE);
                    }
                    if stream.write_all(&out).await.is_err() {
                        return;
                    }
                }
            },
        )
    }
}
