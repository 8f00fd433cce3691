//! Child processes of the study: the binary re-runs itself with a hidden
//! subcommand (`park` for the memory bench, `serve` for a server contestant)
//! so that each contestant's RSS and CPU time are its process's alone, read
//! from `/proc/<pid>` by the parent, and nothing one contestant leaves
//! behind (pooled stacks, threads, heap) weighs on the next.
//!
//! The executable is `JMPCO_STUDY_EXE` when set (integration tests point it
//! at the built binary), else this process's own.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

/// The environment variable naming the study executable to re-run.
pub const EXE_VAR: &str = "JMPCO_STUDY_EXE";

/// The executable children run.
pub fn exe() -> Result<PathBuf> {
    match std::env::var_os(EXE_VAR) {
        Some(path) => Ok(path.into()),
        None => std::env::current_exe().context("finding the study's own executable"),
    }
}

/// `exe <args>` with piped stdin and stdout and inherited stderr.
pub fn spawn<I, S>(args: I) -> Result<Child>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    spawn_under(&[], args)
}

/// [`spawn`] under a wrapper: `prefix[0] prefix[1..] exe <args>` (a
/// `valgrind` command line, say); an empty `prefix` runs `exe` itself.
pub fn spawn_under<I, S>(prefix: &[String], args: I) -> Result<Child>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let exe = exe()?;
    let mut command = match prefix.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| match prefix.first() {
            Some(program) => format!("starting {} under {program}", exe.display()),
            None => format!("starting {}", exe.display()),
        })
}

/// A child that is killed (and reaped) if it is dropped while running, so a
/// failing bench leaves no server or parked threads behind.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}
