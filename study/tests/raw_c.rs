//! The raw C timing program (`study/csrc/bench_round_trips.c`) builds with the
//! system C compiler from jmpco's shim sources and the study's raw loops
//! (`study/csrc/bench_loop.c`), warnings as errors: a compile check of the
//! command line its header gives.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The study's directory.
fn study() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn raw_c_timing_program_builds() {
    let shim = study().join("../csrc");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&shim)
        .expect("jmpco's csrc/")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "c" || x == "S"))
        .collect();
    sources.sort();
    sources.push(study().join("csrc/bench_loop.c"));
    sources.push(study().join("csrc/bench_round_trips.c"));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("raw_c");
    std::fs::create_dir_all(&out_dir).expect("a scratch directory");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let output = Command::new(&cc)
        .args([
            "-O2",
            "-g",
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-U_FORTIFY_SOURCE",
        ])
        .arg("-I")
        .arg(&shim)
        .arg("-I")
        .arg(study().join("csrc"))
        // The asm inline entries `.include` their fragments from csrc/.
        .arg(format!("-Wa,-I{}", shim.display()))
        .args(&sources)
        .arg("-o")
        .arg(out_dir.join("bench_round_trips"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler {cc:?}: {e}"));
    assert!(
        output.status.success(),
        "{cc} failed on csrc/bench_round_trips.c:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
