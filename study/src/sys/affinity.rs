//! CPU pinning with `sched_setaffinity`, and the split of the machine's CPUs
//! between the echo server and the load client.

use std::io;

use super::check;

/// The CPUs this process may run on, in ascending order.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if rc != 0 {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        return (0..n).collect();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE and `set` is initialised.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pins the calling thread (and the threads it creates afterwards) to `cpus`.
/// An empty list leaves the affinity alone.
pub fn pin_current_thread(cpus: &[usize]) -> io::Result<()> {
    if cpus.is_empty() {
        return Ok(());
    }
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: CPU_SET only writes inside `set`; it ignores out-of-range CPUs.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is an initialised cpu_set_t of the size passed; pid 0 is
    // the calling thread.
    check(unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) })?;
    Ok(())
}

/// The CPUs of the server and of the client: with two or more CPUs the client
/// gets the last one and the server the others (CPU 0 and CPU 1 on a two-core
/// machine), so that neither steals the other's time; with one CPU both
/// share it (empty lists: no pinning).
pub fn split_server_client() -> (Vec<usize>, Vec<usize>) {
    let cpus = allowed_cpus();
    match cpus.split_last() {
        Some((client, server)) if !server.is_empty() => (server.to_vec(), vec![*client]),
        _ => (Vec::new(), Vec::new()),
    }
}

/// `[0, 1, 2]` as `"0-2"`, `[0, 2]` as `"0,2"`, `[]` as `"any"`.
pub fn describe(cpus: &[usize]) -> String {
    if cpus.is_empty() {
        return "any".into();
    }
    let contiguous = cpus.windows(2).all(|w| w[1] == w[0] + 1);
    if contiguous && cpus.len() > 2 {
        format!("{}-{}", cpus[0], cpus[cpus.len() - 1])
    } else {
        cpus.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_gives_the_client_a_cpu_of_its_own_when_there_are_two() {
        let (server, client) = split_server_client();
        if allowed_cpus().len() >= 2 {
            assert_eq!(client.len(), 1);
            assert!(!server.contains(&client[0]));
        } else {
            assert!(server.is_empty() && client.is_empty());
        }
    }

    #[test]
    fn cpu_lists_are_described_compactly() {
        assert_eq!(describe(&[]), "any");
        assert_eq!(describe(&[0]), "0");
        assert_eq!(describe(&[0, 1, 2, 3]), "0-3");
        assert_eq!(describe(&[0, 2]), "0,2");
    }
}
