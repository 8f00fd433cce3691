//! Progress on a terminal (an indicatif bar on stderr), nothing otherwise:
//! piped or redirected output stays a clean report.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

/// A count of finished steps with the current step's name.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar of `steps` steps, shown only when stderr and stdout are
    /// terminals and `quiet` is false.
    pub fn new(steps: u64, quiet: bool) -> Progress {
        let visible = !quiet && std::io::stderr().is_terminal() && std::io::stdout().is_terminal();
        let bar = if visible {
            let bar = ProgressBar::new(steps);
            let style = ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} {msg}")
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        } else {
            ProgressBar::hidden()
        };
        Progress { bar }
    }

    /// A progress that never draws (tests, child processes).
    pub fn hidden() -> Progress {
        Progress {
            bar: ProgressBar::hidden(),
        }
    }

    /// Names the step now running.
    pub fn step(&self, name: &str) {
        self.bar.set_message(name.to_string());
    }

    /// Marks one step done.
    pub fn done(&self) {
        self.bar.inc(1);
    }

    /// Removes the bar before the report is printed.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
