//! Readings of memory and CPU time: `/proc/<pid>/status` (VmRSS, VmSize,
//! VmPTE),
//! `/proc/<pid>/stat` (utime + stime of every thread), `/proc/meminfo`
//! (KernelStack) and the calling thread's CPU clock.

use std::io;
use std::time::Duration;

/// Resident and virtual size of a process, and its page tables, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Memory {
    /// VmRSS: resident set.
    pub rss_kib: u64,
    /// VmSize: mapped address space.
    pub vsz_kib: u64,
    /// VmPTE: the page tables mapping it, which VmRSS does not count (a
    /// table page maps 2 MiB of address space, so sparse mappings, one
    /// touched page per stack, cost up to a table page each).
    pub pte_kib: u64,
}

/// `pid`'s memory; `None` means this process.
pub fn memory(pid: Option<u32>) -> io::Result<Memory> {
    let status = std::fs::read_to_string(proc_path(pid, "status"))?;
    Ok(Memory {
        rss_kib: kib_field(&status, "VmRSS:")?,
        vsz_kib: kib_field(&status, "VmSize:")?,
        pte_kib: kib_field(&status, "VmPTE:")?,
    })
}

/// The machine's kernel stacks (all threads of all processes), in KiB.
pub fn kernel_stack_kib() -> io::Result<u64> {
    kib_field(&std::fs::read_to_string("/proc/meminfo")?, "KernelStack:")
}

/// User plus system CPU time used so far by every thread of `pid`
/// (`None`: this process). Resolution: one clock tick (usually 10 ms).
pub fn process_cpu(pid: Option<u32>) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(proc_path(pid, "stat"))?;
    // The command name (field 2) may hold spaces: split after its ')'.
    let rest = stat.rsplit_once(')').ok_or_else(|| malformed("stat"))?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) are the 12th and 13th after the name.
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| malformed("stat"))
    };
    let total = ticks(11)? + ticks(12)?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Ok(Duration::from_nanos(total * 1_000_000_000 / hz))
}

/// Whether every thread of process `pid` is asleep (state `S` or `D` in
/// `/proc/<pid>/task/*/stat`): blocked in a system call, none running or
/// runnable. The threads are read one after another, so a thread may wake
/// between two reads; callers that need the answer firm ask twice.
pub fn all_threads_sleeping(pid: u32) -> io::Result<bool> {
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = match std::fs::read_to_string(task?.path().join("stat")) {
            Ok(stat) => stat,
            // A thread that ended between the listing and the read.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let rest = stat.rsplit_once(')').ok_or_else(|| malformed("stat"))?.1;
        match rest.split_whitespace().next() {
            Some("S") | Some("D") => {}
            Some(_) => return Ok(false),
            None => return Err(malformed("stat")),
        }
    }
    Ok(true)
}

/// CPU time used so far by the calling thread (nanosecond resolution).
pub fn thread_cpu() -> Duration {
    // SAFETY: timespec is plain data.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a writable timespec; this clock always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn proc_path(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(pid) => format!("/proc/{pid}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

fn kib_field(text: &str, key: &str) -> io::Result<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| malformed(key))
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("no {what} in /proc"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_memory_and_cpu_are_readable() {
        let m = memory(None).expect("status");
        assert!(m.rss_kib > 0 && m.vsz_kib >= m.rss_kib);
        assert!(m.pte_kib > 0, "{m:?}");
        let before = thread_cpu();
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        assert!(thread_cpu() > before);
        process_cpu(None).expect("stat");
        process_cpu(Some(std::process::id())).expect("stat by pid");
        kernel_stack_kib().expect("meminfo");
    }

    #[test]
    fn a_sleeping_process_is_seen_asleep_and_a_running_one_is_not() {
        // This process runs the test: this thread is running.
        assert!(!all_threads_sleeping(std::process::id()).expect("own tasks"));
        let mut sleeper = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep runs");
        let pid = sleeper.id();
        let asleep = (0..500).any(|_| {
            std::thread::sleep(Duration::from_millis(2));
            all_threads_sleeping(pid).expect("its tasks")
        });
        let _ = sleeper.kill();
        let _ = sleeper.wait();
        assert!(asleep, "sleep(1) never seen asleep");
        // Gone: an error, not an answer.
        assert!(all_threads_sleeping(pid).is_err());
    }
}
