//! Builds the shim's own C tests (`tests/c/`) with the system C compiler and
//! runs them: the asm backend's register, alignment, nesting and backtrace
//! checks, at -O0 and -O2; the same scenarios on every backend; both under
//! AddressSanitizer with the shim's fiber annotations (`-DJMPCO_ASAN`). (The
//! raw C timing program is the study's: `study/tests/raw_c.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Compiles `main_file` with the shim sources into a binary in a scratch
/// directory and returns its path; panics with the compiler's output on error.
fn compile(main_file: &str, opt: &str, name: &str) -> PathBuf {
    compile_with(main_file, &[opt], name)
}

/// [`compile`] with any extra compiler flags (`flags[0]` is the
/// optimisation level by convention).
fn compile_with(main_file: &str, flags: &[&str], name: &str) -> PathBuf {
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
        .args(flags)
        .args([
            "-g",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-U_FORTIFY_SOURCE",
        ])
        .arg("-I")
        .arg(root().join("csrc"))
        // The inline asm entries `.include` their fragments from csrc/.
        .arg(format!("-Wa,-I{}", root().join("csrc").display()))
        .args(&sources)
        .arg(root().join(main_file))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(
        output.status.success(),
        "{cc} failed on {main_file} {flags:?}:\n{}",
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

/// Runs a C test binary (with `env` added) and returns (stdout, stderr)
/// after checking it exited 0 and printed `oks` "ok" lines.
fn run_c_test(exe: &Path, env: &[(&str, &str)], oks: usize) -> (String, String) {
    let output = Command::new(exe)
        .envs(env.iter().copied())
        .output()
        .expect("run the C test");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{} failed:\n{stdout}\n{stderr}",
        exe.display()
    );
    let passed = stdout.lines().filter(|l| l.starts_with("ok ")).count();
    assert_eq!(passed, oks, "every C test reported ok:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

/// Scenarios x backends in `tests/c/switch_all_test.c`: 4 x 5 (three backends,
/// and sjlj and asm switching through all their entries in turn).
const SWITCH_ALL_OKS: usize = 20;

#[test]
fn every_backend_passes_the_c_scenarios() {
    let exe = compile("tests/c/switch_all_test.c", "-O2", "switch_all_test-O2");
    run_c_test(&exe, &[], SWITCH_ALL_OKS);
}

/// Whether the C compiler can build and link `-fsanitize=address` programs.
fn compiler_has_asan() -> bool {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("c_switch");
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let src = dir.join("asan_probe.c");
    std::fs::write(&src, "int main(void) { return 0; }\n").expect("write the probe");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    Command::new(&cc)
        .args(["-fsanitize=address", "-o"])
        .arg(dir.join("asan_probe"))
        .arg(&src)
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new(dir.join("asan_probe"))
            .status()
            .is_ok_and(|s| s.success())
}

/// ASan flags for the C tests, plus `extra`.
fn asan_flags<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut flags = vec!["-O1", "-fsanitize=address", "-fno-omit-frame-pointer"];
    flags.extend_from_slice(extra);
    flags
}

/// Fake stacks (what the fiber annotations keep apart) exist only with
/// use-after-return detection; abort on the first report.
const ASAN_ENV: &[(&str, &str)] = &[(
    "ASAN_OPTIONS",
    "detect_stack_use_after_return=1:halt_on_error=1:detect_leaks=0",
)];

/// Anything ASan prints when it is confused by a switch or finds an error.
fn assert_asan_quiet(stderr: &str) {
    for bad in [
        "ERROR: AddressSanitizer",
        "__asan_handle_no_return",
        "False positive",
    ] {
        assert!(!stderr.contains(bad), "ASan reported {bad:?}:\n{stderr}");
    }
}

#[test]
fn annotated_switches_are_clean_under_address_sanitizer() {
    if !compiler_has_asan() {
        eprintln!("skipped: the C compiler cannot build -fsanitize=address programs");
        return;
    }
    let all = compile_with(
        "tests/c/switch_all_test.c",
        &asan_flags(&["-DJMPCO_ASAN"]),
        "switch_all_test-asan",
    );
    let (_, stderr) = run_c_test(&all, ASAN_ENV, SWITCH_ALL_OKS);
    assert_asan_quiet(&stderr);
    let asm = compile_with(
        "tests/c/switch_asm_test.c",
        &asan_flags(&["-DJMPCO_ASAN"]),
        "switch_asm_test-asan",
    );
    let (_, stderr) = run_c_test(&asm, ASAN_ENV, 8);
    assert_asan_quiet(&stderr);
}

/// The control for the test above: the same program without `-DJMPCO_ASAN`
/// makes ASan say it lost track of the stack, so the clean run is the
/// annotations' doing.
#[test]
fn unannotated_switches_confuse_address_sanitizer() {
    if !compiler_has_asan() {
        eprintln!("skipped: the C compiler cannot build -fsanitize=address programs");
        return;
    }
    let exe = compile_with(
        "tests/c/switch_all_test.c",
        &asan_flags(&[]),
        "switch_all_test-asan-unannotated",
    );
    let output = Command::new(&exe)
        .envs(ASAN_ENV.iter().copied())
        .output()
        .expect("run the C test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ASan is ignoring requested __asan_handle_no_return")
            || stderr.contains("ERROR: AddressSanitizer"),
        "expected ASan to be confused without the annotations, got:\n{stderr}"
    );
}
