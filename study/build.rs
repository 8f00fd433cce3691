//! Compiles the raw C benchmark loops (`study/csrc/bench_loop.c`) and records how
//! the study was built, for the header of its report: the cargo profile and
//! opt-level, rustc's version, the target, RUSTFLAGS, and the C compiler
//! that `cc` uses for jmpco's shim (with `CFLAGS`, if set).

use std::env;
use std::process::Command;

/// The raw loops and the header that declares them (by hand, for Rust, in
/// `src/switch/raw_c.rs`).
const BENCH_LOOP: &[&str] = &["csrc/bench_loop.c", "csrc/bench_loop.h"];

/// The files of jmpco's shim that `bench_loop.c` includes, directly or
/// through the assembler's `.include`, relative to its include directory.
const SHIM_HEADERS: &[&str] = &[
    "jmpco_switch.h",
    "switch_asm_entries.h",
    "switch_asm_resume.inc",
    "switch_asm_suspend.inc",
    "switch_asm_land.inc",
];

fn main() {
    build_bench_loop();
    record_build();
}

/// Compiles `study/csrc/bench_loop.c` into `libjmpco_bench_loop.a`, linked into
/// the study's library. It calls the switch functions of jmpco's shim,
/// which the jmpco library carries and exports as C symbols, so it needs
/// only their header (and the asm fragments its inline entries `.include`):
/// jmpco's build script names their directory (`DEP_JMPCO_SHIM_INCLUDE`,
/// from `links = "jmpco_shim"`), and says when the shim was built for ASan
/// (`DEP_JMPCO_SHIM_ASAN`), where the loops must switch through the
/// annotated C-ABI functions as the shim does.
fn build_bench_loop() {
    let shim = env::var("DEP_JMPCO_SHIM_INCLUDE")
        .expect("jmpco's build script names its shim's include directory");
    for path in BENCH_LOOP {
        println!("cargo:rerun-if-changed={path}");
    }
    for header in SHIM_HEADERS {
        println!("cargo:rerun-if-changed={shim}/{header}");
    }
    let mut build = cc::Build::new();
    build
        .file("csrc/bench_loop.c")
        .include("csrc")
        .include(&shim)
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        // The asm inline entries `.include` their fragments: the assembler
        // must find them too.
        .flag(format!("-Wa,-I{shim}"));
    if env::var_os("DEP_JMPCO_SHIM_ASAN").is_some() {
        build.define("JMPCO_ASAN", None);
    }
    build.compile("jmpco_bench_loop");
}

/// Sets the `STUDY_*` variables the report's header reads.
fn record_build() {
    for var in ["CFLAGS", "CC", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let get = |k: &str| env::var(k).unwrap_or_default();
    let first_line = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.lines().next().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into())
    };
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let cc = env::var("CC").unwrap_or_else(|_| "cc".into());
    let rustflags = get("CARGO_ENCODED_RUSTFLAGS").replace('\x1f', " ");
    let set = |k: &str, v: &str| println!("cargo:rustc-env=STUDY_{k}={v}");
    set("PROFILE", &get("PROFILE"));
    set("OPT_LEVEL", &get("OPT_LEVEL"));
    set("TARGET", &get("TARGET"));
    set("RUSTC_VERSION", &first_line(&rustc, "--version"));
    set("CC_VERSION", &first_line(&cc, "--version"));
    set("CFLAGS", &get("CFLAGS"));
    set("RUSTFLAGS", &rustflags);
}
