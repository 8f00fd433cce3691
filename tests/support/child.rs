//! Runs a test's crashing scenario in a child process: the test re-executes
//! its own binary, filtered to itself, with `JMPCO_TEST_CHILD` naming the
//! scenario; the child runs it, the parent checks how the child died.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

const VAR: &str = "JMPCO_TEST_CHILD";

/// True inside the child started for `scenario`.
pub fn is(scenario: &str) -> bool {
    std::env::var(VAR).is_ok_and(|v| v == scenario)
}

/// How a child ended.
#[derive(Debug)]
pub struct Outcome {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stderr: String,
}

impl Outcome {
    /// The rest of the child's first stderr line that starts with
    /// `prefix`; panics (showing the output) if there is none.
    pub fn line(&self, prefix: &str) -> &str {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("the child printed no line {prefix:?}: {self:?}"))
    }
}

/// Runs the test `test` (its full path, e.g. `sjlj::stack_overflow`) in a
/// child with `scenario` set, and waits for it (at most 60 s).
pub fn run(test: &str, scenario: &str) -> Outcome {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(VAR, scenario)
        .env("RUST_BACKTRACE", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the child test process");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for the child").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("child scenario {scenario} did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child
        .wait_with_output()
        .expect("collect the child's output");
    Outcome {
        code: output.status.code(),
        signal: output.status.signal(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
