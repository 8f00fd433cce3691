//! Server contestants in child processes: [`ServerProcess`] on the parent's
//! side, [`serve_child`] (the hidden `serve` subcommand) on the child's.
//!
//! Why a process per contestant: RSS and CPU time are only clean per
//! process (`/proc/<pid>`), a contestant's leftovers (threads blocked on
//! closed sockets, a runtime's pools) cannot slow the next one, and the
//! server can be pinned to its CPUs without touching the client's.
//!
//! The protocol, one line each way: the child binds 127.0.0.1:0, starts the
//! contestant and prints `port <N>`; the parent later writes `stop` (or
//! closes stdin), and the child prints `stats <json>` and exits.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::ChildStdout;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::{ServeConfig, Server, Stats};
use crate::child;
use crate::sys::{affinity, procfs};

/// A server contestant running in a child process.
pub struct ServerProcess {
    guard: child::Guard,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl ServerProcess {
    /// Starts contestant `name` of `bench` (`echo` or `http`) pinned to `cpus`.
    pub fn start(bench: &str, name: &str, config: &ServeConfig, cpus: &[usize]) -> Result<Self> {
        Self::start_under(&[], bench, name, config, cpus)
    }

    /// [`start`](Self::start) under a wrapper command (`prefix`, as
    /// [`child::spawn_under`] takes it): callgrind, for the instruction counts.
    pub fn start_under(
        prefix: &[String],
        bench: &str,
        name: &str,
        config: &ServeConfig,
        cpus: &[usize],
    ) -> Result<Self> {
        let cpus_arg = cpus
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut args = vec![
            "serve".to_string(),
            "--proto".into(),
            bench.into(),
            "--name".into(),
            name.into(),
            "--request-size".into(),
            config.size.to_string(),
            "--workers".into(),
            config.threads.to_string(),
        ];
        if !cpus_arg.is_empty() {
            args.extend(["--cpus".into(), cpus_arg]);
        }
        let mut guard = child::Guard(child::spawn_under(prefix, &args)?);
        let mut stdout = BufReader::new(guard.0.stdout.take().context("the server's stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let port: u16 = line
            .trim()
            .strip_prefix("port ")
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("server {name} did not start (it said {line:?})"))?;
        Ok(ServerProcess {
            guard,
            stdout,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.guard.0.id()
    }

    /// Its memory now.
    pub fn memory(&self) -> Result<procfs::Memory> {
        Ok(procfs::memory(Some(self.pid()))?)
    }

    /// CPU time its threads have used so far.
    pub fn cpu(&self) -> Result<Duration> {
        Ok(procfs::process_cpu(Some(self.pid()))?)
    }

    /// Stops it and returns its counters.
    pub fn stop(mut self) -> Result<Stats> {
        let stdin = self.guard.0.stdin.as_mut().context("the server's stdin")?;
        let _ = stdin.write_all(b"stop\n");
        let _ = stdin.flush();
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        let _ = self.guard.0.wait();
        match line.trim().strip_prefix("stats ") {
            Some(json) => Ok(serde_json::from_str(json)?),
            None => bail!("the server stopped without its stats (it said {line:?})"),
        }
    }
}

/// The `serve` subcommand: pins this process to `cpus`, serves with
/// `server` on 127.0.0.1 until stdin says `stop` or closes, prints the stats.
pub fn serve_child(server: &dyn Server, config: &ServeConfig, cpus: &[usize]) -> Result<()> {
    affinity::pin_current_thread(cpus)?;
    let started = server.start(SocketAddr::from(([127, 0, 0, 1], 0)), config)?;
    let (port, running) = (started.addr.port(), started.running);
    let mut out = std::io::stdout().lock();
    writeln!(out, "port {port}")?;
    out.flush()?;
    let mut line = String::new();
    while std::io::stdin().read_line(&mut line)? > 0 && line.trim() != "stop" {
        line.clear();
    }
    // A server stuck on a client that never finishes must not hold the
    // parent: give the stop two seconds, then report what is known.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(running.stop());
    });
    let stats = rx.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
    writeln!(out, "stats {}", serde_json::to_string(&stats)?)?;
    out.flush()?;
    // Connection threads may still be blocked: end the process, not them.
    std::process::exit(0)
}
