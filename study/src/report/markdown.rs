//! `report.md`: each claim of the seed notes restated beside the figure this
//! run measured, then the tables and charts. A claim whose contestants did
//! not run says so instead of guessing.

use std::fmt::Write;

use super::{table, Study, VIEWS};

/// One claim: what the notes say, and the figure that answers it.
struct Claim {
    notes: &'static str,
    measured: Option<String>,
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

fn claims(study: &Study) -> Vec<Claim> {
    let m = |bench: &str, who: &str, metric: &str| study.median(bench, who, metric, None);
    let mut out = Vec::new();

    // Memory.
    let measured = (|| {
        let (t_rss, t_vsz) = (
            m("memory", "thread", "rss_kib_per_item")?,
            m("memory", "thread", "vsz_kib_per_item")?,
        );
        let (c_rss, c_vsz) = (
            m("memory", "sjlj", "rss_kib_per_item")?,
            m("memory", "sjlj", "vsz_kib_per_item")?,
        );
        let kstack = m("memory", "thread", "kernel_stack_kib_per_item").unwrap_or(f64::NAN);
        Some(format!(
            "a parked thread: {t_rss:.1} KiB resident + {kstack:.1} KiB kernel stack, {t_vsz:.0} KiB \
             of address space; a parked sjlj coroutine: {c_rss:.2} KiB resident, {c_vsz:.1} KiB of \
             address space. Resident: a thread costs {:.1}x a coroutine (with its kernel stack, \
             {:.1}x); the ~8 MiB is address space, not memory.",
            t_rss / c_rss,
            (t_rss + kstack) / c_rss
        ))
    })();
    out.push(Claim {
        notes: "A thread's context takes about 8 MiB, a coroutine's about 4 KiB: coroutines cost far less.",
        measured,
    });

    // Switch cost.
    let measured = (|| {
        let (s, t) = (
            m("switch", "sjlj", "round_trip_ns")?,
            m("switch", "thread", "round_trip_ns")?,
        );
        Some(format!(
            "round trip: sjlj {s:.1} ns, two OS threads handing off on one CPU {t:.0} ns: the \
             kernel switch costs {:.0}x the user-space one.",
            t / s
        ))
    })();
    out.push(Claim {
        notes: "A thread switch goes user mode -> kernel -> user mode; a coroutine switch stays in user space.",
        measured,
    });

    // The three switches.
    let measured = (|| {
        let s = m("switch", "sjlj", "round_trip_ns")?;
        let u = m("switch", "ucontext", "round_trip_ns")?;
        let mut text = format!(
            "round trip: sjlj {s:.1} ns, ucontext {u:.1} ns (ucontext is {:.1}x sjlj: \
             swapcontext saves and restores the signal mask with a system call)",
            u / s
        );
        if let Some(a) = m("switch", "asm", "round_trip_ns") {
            let _ = write!(text, ", asm {a:.1} ns ({:.2}x sjlj)", a / s);
        }
        if let Some(c) = m("switch", "corosensei", "round_trip_ns") {
            let _ = write!(
                text,
                "; the peer crate corosensei {c:.1} ns ({:.2}x sjlj)",
                c / s
            );
        }
        text.push('.');
        Some(text)
    })();
    out.push(Claim {
        notes: "Resume and yield can be built three ways: setjmp/longjmp, ucontext, or hand-written assembly.",
        measured,
    });

    // Creation.
    let measured = (|| {
        let p = m("create", "sjlj-pooled", "create_ns")?;
        let t = m("create", "thread", "create_ns")?;
        let mut text = format!(
            "create + run + finish: sjlj with a pooled stack {p:.0} ns, a thread spawned and \
             joined {t:.0} ns ({:.0}x)",
            t / p
        );
        if let Some(f) = m("create", "sjlj-fresh", "create_ns") {
            let _ = write!(text, "; sjlj with a fresh mmap'd stack {f:.0} ns");
        }
        text.push('.');
        Some(text)
    })();
    out.push(Claim {
        notes:
            "Coroutines consume far fewer resources than threads (here: the cost of making one).",
        measured,
    });

    // The synchronous stall.
    let slow = |who: &str| {
        let r = study.find("echo-slow", who, "p99_us", None)?;
        let normal = study.median("echo", who, "p99_us", r.param_u64("connections"));
        Some((r.median, normal))
    };
    let measured = slow("sync").map(|(sync_p99, normal)| {
        let mut text = format!(
            "with one client dribbling its request a byte at a time, the other clients' p99 under \
             `sync` is {sync_p99:.0} us"
        );
        if let Some(n) = normal {
            let _ = write!(text, " (without it: {n:.0} us)");
        }
        for who in ["coro-sjlj", "tokio", "thread-pool"] {
            if let Some((p99, _)) = slow(who) {
                let _ = write!(text, "; under `{who}` {p99:.0} us");
            }
        }
        text.push('.');
        text
    });
    out.push(Claim {
        notes: "A synchronous single-threaded epoll loop serves one event after another: \
                one slow or blocking client stalls every other one.",
        measured,
    });

    // The thread pool's double ownership.
    let measured = study
        .results
        .iter()
        .filter(|r| r.bench == "echo" && r.contestant == "thread-pool" && r.metric == "reready")
        .max_by_key(|r| r.param_u64("connections"))
        .map(|r| {
            let pct = study
                .median(
                    "echo",
                    "thread-pool",
                    "reready_pct",
                    r.param_u64("connections"),
                )
                .unwrap_or(f64::NAN);
            format!(
                "at {} connections, a descriptor became ready again while a worker still held it \
                 {:.0} times ({pct:.2}% of hand-offs): each time, level-triggered epoll without \
                 EPOLLONESHOT would have given it to a second worker. With EPOLLONESHOT, none was.",
                r.param_u64("connections").unwrap_or(0),
                r.median
            )
        });
    out.push(Claim {
        notes: "epoll + a thread pool: events of one descriptor arrive in different rounds, so \
                several threads end up handling the same descriptor.",
        measured,
    });

    // One coroutine per client.
    let top = study
        .results
        .iter()
        .filter(|r| r.bench == "echo")
        .filter_map(|r| r.param_u64("connections"))
        .max();
    let measured = top.and_then(|c| {
        let rps = |who: &str| study.median("echo", who, "req_per_s", Some(c));
        let rss = |who: &str| study.median("echo", who, "rss_kib_per_conn", Some(c));
        let mut parts = Vec::new();
        for who in [
            "coro-sjlj",
            "coro-sjlj-mt",
            "thread-per-conn",
            "thread-pool",
            "tokio",
            "tokio-mt",
            "sync",
        ] {
            if let (Some(r), Some(k)) = (rps(who), rss(who)) {
                parts.push(format!("{who} {r:.0} req/s, {k:.1} KiB/conn"));
            }
        }
        if parts.is_empty() {
            return None;
        }
        let mut text = format!("at {c} connections: {}", parts.join("; "));
        match (
            ratio(rps("coro-sjlj"), rps("tokio")),
            ratio(rps("coro-sjlj"), rps("thread-per-conn")),
        ) {
            (Some(a), Some(b)) => {
                let _ = write!(
                    text,
                    ". coro-sjlj / tokio = {a:.2}x, coro-sjlj / thread-per-conn = {b:.2}x"
                );
            }
            _ => text.push('.'),
        }
        Some(text)
    });
    out.push(Claim {
        notes: "Serve one client per coroutine, not one client per thread.",
        measured,
    });
    out
}

/// The report.
pub fn render(study: &Study, charts: &[String]) -> String {
    let mut out = String::from("# jmpco-study report\n\n");
    let _ = writeln!(out, "Command: `{}`\n", study.command);
    out.push_str("```text\n");
    out.push_str(&table::header(study));
    out.push_str("```\n\n## The notes' claims, measured\n\n");
    out.push_str("| the notes say | measured here |\n| --- | --- |\n");
    for claim in claims(study) {
        let measured = claim
            .measured
            .unwrap_or_else(|| "not measured in this run".into());
        let _ = writeln!(
            out,
            "| {} | {} |",
            claim.notes,
            measured.replace('|', "\\|")
        );
    }
    out.push_str("\n## Tables\n\n");
    for view in &VIEWS {
        if let Some(t) = table::bench_table(study, view) {
            let _ = write!(out, "```text\n{t}```\n\n");
        }
    }
    if !charts.is_empty() {
        out.push_str("## Charts\n\n");
        for c in charts {
            let _ = writeln!(out, "![{c}]({c})\n");
        }
    }
    if !study.notes.is_empty() {
        out.push_str("## Notes\n\n");
        for n in &study.notes {
            let _ = writeln!(out, "- {n}");
        }
    }
    out
}
