//! `tokio` and `tokio-mt`: the keep-alive hello server on tokio, a task per
//! connection. As in `coro-sjlj`'s, each read's complete requests are
//! answered in one write ([`Session`], the parser every http contestant
//! shares).

use std::net::SocketAddr;

use anyhow::Result;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::request::{Session, Then};
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
                let mut session = Session::new();
                loop {
                    let n = match stream.read(session.spare()).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let (out, then) = session.received(n);
                    if stream.write_all(out).await.is_err() || then == Then::Close {
                        return;
                    }
                }
            },
        )
    }
}
