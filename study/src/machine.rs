//! What the figures were measured on and with: the machine (CPU model,
//! cores, kernel, glibc), the build (profile, opt-level, compilers, flags)
//! and the date. The header of the table, `machine` and `build` in the JSON.

use std::ffi::CStr;

use serde::{Deserialize, Serialize};

use crate::sys::affinity;

/// The machine the study ran on.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub cpu: String,
    /// Logical CPUs this process may use.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// glibc version (`gnu_get_libc_version`).
    pub glibc: String,
    /// Total memory, MiB.
    pub memory_mib: u64,
    /// UTC date and time of the run, `YYYY-MM-DD HH:MM:SS UTC`.
    pub date: String,
    /// The 1-, 5- and 15-minute load averages when the run started: other
    /// work on the machine shows here (and in the figures).
    #[serde(default)]
    pub load_avg: String,
}

/// How the study (and jmpco's C shim inside it) was compiled.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Build {
    /// Cargo profile: `release` or `debug`.
    pub profile: String,
    /// Cargo opt-level, also the `-O` level `cc` passes to the C shim.
    pub opt_level: String,
    /// `rustc --version`.
    pub rustc: String,
    /// Target triple.
    pub target: String,
    /// RUSTFLAGS in effect.
    pub rustflags: String,
    /// First line of `cc --version`.
    pub cc: String,
    /// The flags the shim is compiled with.
    pub c_flags: String,
}

impl Machine {
    /// Reads the running machine.
    pub fn detect() -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpu = read("/proc/cpuinfo")
            .lines()
            .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
            .map_or_else(|| "unknown CPU".into(), |m| m.trim().to_string());
        let memory_mib = read("/proc/meminfo")
            .lines()
            .find_map(|l| {
                l.strip_prefix("MemTotal:")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .map_or(0, |kib: u64| kib / 1024);
        // SAFETY: gnu_get_libc_version returns a static NUL-terminated string.
        let glibc = unsafe { CStr::from_ptr(libc::gnu_get_libc_version()) }
            .to_string_lossy()
            .into_owned();
        Machine {
            cpu,
            cores: affinity::allowed_cpus().len(),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            glibc,
            memory_mib,
            date: utc_now(),
            load_avg: read("/proc/loadavg")
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        }
    }
}

impl Build {
    /// The build of this binary, recorded by `build.rs`.
    pub fn current() -> Build {
        let opt_level = env!("STUDY_OPT_LEVEL").to_string();
        let extra = env!("STUDY_CFLAGS");
        // Mirrors jmpco's build.rs (cc adds -O<opt-level>; the shim adds the rest).
        let mut c_flags = format!(
            "-O{opt_level} -std=c11 -U_FORTIFY_SOURCE -fno-strict-aliasing -Wall -Wextra -Werror"
        );
        if !extra.is_empty() {
            c_flags = format!("{c_flags} {extra}");
        }
        Build {
            profile: env!("STUDY_PROFILE").into(),
            opt_level,
            rustc: env!("STUDY_RUSTC_VERSION").into(),
            target: env!("STUDY_TARGET").into(),
            rustflags: env!("STUDY_RUSTFLAGS").into(),
            cc: env!("STUDY_CC_VERSION").into(),
            c_flags,
        }
    }
}

/// The current UTC time as `YYYY-MM-DD HH:MM:SS UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_convert_to_civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_453), (2025, 12, 31));
    }

    #[test]
    fn machine_and_build_are_filled_in() {
        let m = Machine::detect();
        assert!(m.cores >= 1 && !m.kernel.is_empty() && m.glibc.starts_with('2'));
        assert!(m.date.ends_with("UTC"));
        assert!(!Build::current().profile.is_empty());
    }
}
