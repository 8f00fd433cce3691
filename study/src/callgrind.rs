//! Instruction counts from `valgrind --tool=callgrind`, and the study's way
//! of turning two of them into a cost per unit of work: run the same
//! program for N and for 2N units, subtract, divide by N, so that start-up,
//! calibration and shutdown (the same in both runs) cancel out.
//!
//! The counts are user-space instructions (callgrind's `Ir`) of every
//! thread of the process run under it; the kernel's work in system calls is
//! not in them. They do not move with the machine's speed or with what else
//! runs on it, which wall-clock figures on a shared VM do.
//!
//! This module knows valgrind (is it there, the command line, its output
//! file) and the arithmetic; what runs under it is the caller's
//! ([`crate::instructions`] runs the server contestants).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// The note a bench leaves instead of its figures when valgrind is absent.
pub const MISSING: &str = "`valgrind` is not installed (apt-get install valgrind)";

/// Whether `valgrind` can be run (it is on `PATH` and answers `--version`).
pub fn available() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The command prefix that runs a program under callgrind, quietly, with
/// its counts written to `out_file`: `valgrind --tool=callgrind -q
/// --callgrind-out-file=<out_file>`, then the program and its arguments.
pub fn prefix(out_file: &Path) -> Vec<String> {
    vec![
        "valgrind".into(),
        "--tool=callgrind".into(),
        "-q".into(),
        format!("--callgrind-out-file={}", out_file.display()),
    ]
}

/// The total instruction count of a callgrind output file's text: its
/// `totals:` line (or `summary:`, which older versions write), whose first
/// number is `Ir` when, as by default, it is the only event collected.
pub fn total_instructions(callgrind_out: &str) -> Result<u64> {
    let line = callgrind_out
        .lines()
        .find_map(|l| l.strip_prefix("totals:"))
        .or_else(|| {
            callgrind_out
                .lines()
                .find_map(|l| l.strip_prefix("summary:"))
        })
        .context("no `totals:` or `summary:` line in the callgrind output")?;
    line.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("the callgrind total {line:?} is not a count"))
}

/// Reads the total of the callgrind output file at `path`.
pub fn read_total(path: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading callgrind's output {}", path.display()))?;
    total_instructions(&text).with_context(|| format!("in {}", path.display()))
}

/// Two runs of the same program, of N and of 2N units, differenced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Differenced {
    /// Instructions per unit: `(at_2n - at_n) / n`.
    pub per_unit: f64,
    /// What neither run's units account for: `at_n - n * per_unit`
    /// (start-up and shutdown).
    pub fixed: f64,
}

/// Differences `at_n` (the run of `n` units) and `at_2n` (of `2n`).
///
/// Refuses what cannot be a fixed cost plus a cost per unit: `n == 0`, a
/// count that does not grow from N to 2N, and one that more than doubles
/// (a negative fixed part: start-up cannot cost fewer than no
/// instructions). Each of these means the runs did not do the work they
/// were asked to, or the work did not scale with N.
pub fn difference(n: u64, at_n: u64, at_2n: u64) -> Result<Differenced> {
    if n == 0 {
        bail!("cannot difference runs of 0 and 0 units");
    }
    if at_2n <= at_n {
        bail!(
            "the run of {} units counted {at_2n} instructions, not more than the run of {n} \
             ({at_n}): the count did not grow with the work",
            2 * n
        );
    }
    if at_2n - at_n > at_n {
        bail!(
            "the run of {} units counted {at_2n} instructions, more than twice the run of {n} \
             ({at_n}): that is no fixed start-up plus a cost per unit",
            2 * n
        );
    }
    let per_unit = (at_2n - at_n) as f64 / n as f64;
    Ok(Differenced {
        per_unit,
        fixed: at_n as f64 - per_unit * n as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_read_from_totals_or_summary() {
        let out = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\n\nfn=(1) main\n1 5\n\
                   totals: 123456\n";
        assert_eq!(total_instructions(out).expect("totals"), 123_456);
        let old = "events: Ir\nsummary: 42\n";
        assert_eq!(total_instructions(old).expect("summary"), 42);
        // With more events collected, Ir comes first.
        assert_eq!(total_instructions("totals: 7 3 1\n").expect("Ir"), 7);
    }

    #[test]
    fn an_output_without_a_count_is_an_error() {
        assert!(total_instructions("").is_err());
        assert!(total_instructions("events: Ir\nfn=main\n").is_err());
        assert!(total_instructions("totals: lots\n").is_err());
        assert!(read_total(Path::new("/nonexistent/callgrind.out")).is_err());
    }

    #[test]
    fn differencing_cancels_the_fixed_part() {
        // 5,000,000 of start-up, 1,234 per unit.
        let (n, fixed, per) = (1_000, 5_000_000u64, 1_234u64);
        let d = difference(n, fixed + n * per, fixed + 2 * n * per).expect("differenced");
        assert_eq!(d.per_unit, per as f64);
        assert_eq!(d.fixed, fixed as f64);
        // No start-up at all is still a cost per unit.
        let d = difference(10, 100, 200).expect("no fixed part");
        assert_eq!((d.per_unit, d.fixed), (10.0, 0.0));
    }

    #[test]
    fn differencing_refuses_counts_that_are_no_cost_per_unit() {
        // No work.
        assert!(difference(0, 100, 200).is_err());
        // A count that does not grow (equal, or smaller: the runs swapped,
        // or the 2N run did less work).
        let equal = difference(1_000, 5_000_000, 5_000_000).unwrap_err();
        assert!(format!("{equal}").contains("did not grow"), "{equal}");
        assert!(difference(1_000, 5_000_000, 4_000_000).is_err());
        // More than doubled: a negative start-up.
        let doubled = difference(1_000, 1_000_000, 2_000_001).unwrap_err();
        assert!(
            format!("{doubled}").contains("more than twice"),
            "{doubled}"
        );
    }

    #[test]
    fn the_prefix_names_the_tool_and_the_output_file() {
        let p = prefix(Path::new("/tmp/cg.out"));
        assert_eq!(p[0], "valgrind");
        assert!(p.contains(&"--tool=callgrind".to_string()));
        assert!(p.contains(&"--callgrind-out-file=/tmp/cg.out".to_string()));
    }
}
