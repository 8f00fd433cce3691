//! gdb understands coroutine stacks: for every backend, a breakpoint where
//! the coroutine's suspend enters the switch, and one in a running coroutine, both give
//! a backtrace through the body's frames that ends cleanly at the coroutine
//! entry (no "corrupt stack", no wandering into the resumer's frames).
//!
//! gdb runs this very test binary, filtered to `gdb_target`, which runs the
//! scenario when `JMPCO_GDB_TARGET` names a backend. Needs gdb: `.ci/run`
//! installs it; without it the tests say so and skip.

use std::process::Command;

use jmpco::{Backend, Coroutine, Yielder};

const TARGET_VAR: &str = "JMPCO_GDB_TARGET";

/// Suspends once, then returns (gdb breaks in the switch as it suspends,
/// and here once it runs again).
#[inline(never)]
fn deepest_frame(yielder: &Yielder<(), ()>) -> u32 {
    yielder.suspend(());
    std::hint::black_box(7)
}

#[inline(never)]
fn middle_frame(depth: u32, yielder: &Yielder<(), ()>) -> u32 {
    if depth == 0 {
        deepest_frame(yielder)
    } else {
        middle_frame(depth - 1, yielder) + 1
    }
}

/// The program gdb debugs: does nothing unless `JMPCO_GDB_TARGET` is set.
#[test]
fn gdb_target() {
    let Ok(name) = std::env::var(TARGET_VAR) else {
        return;
    };
    let backend: Backend = name.parse().expect("a backend name");
    let mut co: Coroutine<(), (), u32> = Coroutine::builder()
        .backend(backend)
        .build(|yielder: &Yielder<(), ()>, ()| middle_frame(2, yielder))
        .expect("a coroutine");
    co.resume(()).as_yield().expect("the body suspends once");
    assert_eq!(co.resume(()).as_return(), Some(9));
}

fn gdb_available() -> bool {
    Command::new("gdb")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs `gdb_target` under gdb with `commands` and returns gdb's output.
fn gdb(backend: Backend, commands: &[&str]) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new("gdb");
    cmd.args(["-batch", "-nx", "-ex", "set debuginfod enabled off"]);
    for c in commands {
        cmd.args(["-ex", c]);
    }
    cmd.env(TARGET_VAR, backend.name())
        .env("RUST_BACKTRACE", "0");
    let out = cmd
        .arg("--args")
        .arg(&exe)
        .args(["gdb_target", "--exact", "--nocapture", "--test-threads=1"])
        .output()
        .expect("run gdb");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The frames of the first `bt` in `output` (lines starting with `#N`).
fn frames(output: &str) -> Vec<&str> {
    let mut frames = Vec::new();
    for line in output.lines().skip_while(|l| !l.starts_with("#0 ")) {
        if !line.starts_with('#') {
            if line.starts_with(' ') {
                continue; // a wrapped frame line
            }
            break;
        }
        if line.starts_with("#0 ") && !frames.is_empty() {
            break; // the next backtrace
        }
        frames.push(line);
    }
    frames
}

fn assert_ends_at_entry(output: &str, what: &str) {
    let frames = frames(output);
    assert!(
        !frames.is_empty(),
        "{what}: no backtrace in gdb's output:\n{output}"
    );
    assert!(!output.contains("corrupt stack"), "{what}:\n{output}");
    assert!(
        !output.contains("previous frame inner"),
        "{what}:\n{output}"
    );
    assert!(
        frames.iter().any(|f| f.contains("middle_frame")),
        "{what}:\n{output}"
    );
    // The entry's own frame is the last one naming it (its closures come
    // before it).
    let entry = frames
        .iter()
        .rposition(|f| f.contains("coroutine::entry::entry"))
        .unwrap_or_else(|| panic!("{what}: the walk does not reach the entry:\n{output}"));
    // Past the entry only the terminating frame(s) of the stack's start may
    // follow: a zero return address, or ucontext's trampoline and glibc's
    // __start_context. Never `main` or the resumer's frames.
    let after = &frames[entry + 1..];
    assert!(
        after.len() <= 3,
        "{what}: {} frames after the entry:\n{output}",
        after.len()
    );
    assert!(
        !after
            .iter()
            .any(|f| f.contains(" main ") || f.contains("resume")),
        "{what}:\n{output}"
    );
}

fn check_backend(backend: Backend) {
    if !gdb_available() {
        eprintln!("gdb is not installed: skipping (.ci/run installs it)");
        return;
    }
    if !cfg!(debug_assertions) {
        // Release test binaries carry no debug info: gdb cannot name the
        // inlined frames these checks look for. Debugging means debug builds.
        eprintln!("release build: skipping the gdb checks (they run in `cargo test`)");
        return;
    }
    // Where the coroutine's suspend enters the shim. sjlj and asm have an
    // entry used only to suspend; ucontext has one switch for both ways,
    // whose 1st hit is main resuming and 2nd the coroutine suspending.
    let commands: &[&str] = match backend {
        Backend::Sjlj => &["break jmpco_sjlj_suspend", "run", "bt"],
        // asm suspends inline: break in the Rust function that holds it.
        Backend::Asm => &["break jmpco::switch::Contexts::suspend", "run", "bt"],
        Backend::Ucontext => &["break jmpco_ucontext_switch", "run", "continue", "bt"],
    };
    let suspending = gdb(backend, commands);
    assert_ends_at_entry(&suspending, &format!("{backend}, suspending"));
    assert!(
        suspending.contains("Yielder"),
        "{backend}: suspend's frame:\n{suspending}"
    );

    let running = gdb(backend, &["break gdb::deepest_frame", "run", "bt"]);
    assert_ends_at_entry(&running, &format!("{backend}, running"));
}

#[test]
fn gdb_walks_a_sjlj_coroutine_to_its_entry() {
    check_backend(Backend::Sjlj);
}

#[test]
fn gdb_walks_a_ucontext_coroutine_to_its_entry() {
    check_backend(Backend::Ucontext);
}

#[test]
fn gdb_walks_an_asm_coroutine_to_its_entry() {
    check_backend(Backend::Asm);
}
