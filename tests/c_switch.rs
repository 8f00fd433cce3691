//! Builds the shim's own C tests (`tests/c/`) with the system C compiler and
//! runs them: the asm backend's register, alignment, nesting and backtrace
//! checks, at -O0 and -O2, and a compile check of the raw C timing program.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles `main_file` with the shim sources into a binary in a scratch
/// directory and returns its path; panics with the compiler's output on error.
fn compile(main_file: &str, opt: &str, name: &str) -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_switch");
    std::fs::create_dir_all(&out_dir).expect("a scratch directory");
    let exe = out_dir.join(name);
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root().join("csrc"))
        .expect("csrc/")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "c" || x == "S"))
        .collect();
    sources.sort();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let output = Command::new(&cc)
        .args([
            opt,
            "-g",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-U_FORTIFY_SOURCE",
        ])
        .arg("-I")
        .arg(root().join("csrc"))
        .args(&sources)
        .arg(root().join(main_file))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(
        output.status.success(),
        "{cc} failed on {main_file} {opt}:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

fn run_asm_tests(opt: &str) {
    let exe = compile(
        "tests/c/switch_asm_test.c",
        opt,
        &format!("switch_asm_test{opt}"),
    );
    let output = Command::new(&exe).output().expect("run the C test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "C asm tests failed ({opt}):\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let passed = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(passed, 8, "every C test reported ok:\n{stdout}");
}

#[test]
fn asm_switch_c_tests_pass_optimised() {
    run_asm_tests("-O2");
}

#[test]
fn asm_switch_c_tests_pass_unoptimised() {
    run_asm_tests("-O0");
}

#[test]
fn raw_c_timing_program_builds() {
    compile("tests/c/bench_round_trips.c", "-O2", "bench_round_trips");
}
