//! Builds the C switch shim in `csrc/` (C plus one x86-64 `.S` file) and,
//! with `--features bindgen`,
//! regenerates the Rust bindings to it.
//!
//! A normal build needs only a C compiler: the bindings are committed in
//! `src/sys/bindings.rs`. `scripts/regen-bindings.sh` rewrites that file
//! through the `bindgen` feature; CI fails when it drifts.
//!
//! For build scripts of crates that depend on jmpco (`links =
//! "jmpco_shim"`), it publishes `DEP_JMPCO_SHIM_INCLUDE` (the directory of
//! the shim's headers) and, with the `asan` feature, `DEP_JMPCO_SHIM_ASAN`:
//! the study compiles its raw C benchmark loops against them.

use std::env;

/// The C sources of the shim, one backend each (sjlj's in two copies).
const SHIM_SOURCES: &[&str] = &[
    "csrc/switch_sjlj.c",
    "csrc/switch_sjlj_suspend.c",
    "csrc/switch_ucontext.c",
    "csrc/switch_asm.S",
    "csrc/switch_asm_init.c",
];

/// Valgrind stack registration, built only with the `valgrind` feature.
const VALGRIND_SOURCE: &str = "csrc/valgrind_stack.c";

/// The one header the Rust side binds to.
const SHIM_HEADER: &str = "csrc/jmpco_switch.h";

/// Files the sources include besides `SHIM_HEADER` (headers and the asm
/// landing): a change must rebuild. (The inline resume, suspend and exit
/// fragments, `csrc/switch_asm_{resume,suspend,exit}.inc`, are the Rust side's:
/// `src/switch/asm.rs` includes them with `include_str!`, which cargo
/// tracks.)
const SHIM_PRIVATE_HEADERS: &[&str] = &[
    "csrc/switch_asm_layout.h",
    "csrc/asan_fiber.h",
    "csrc/switch_sjlj_core.h",
    "csrc/switch_asm_land.inc",
];

fn main() {
    for path in SHIM_SOURCES
        .iter()
        .chain(SHIM_PRIVATE_HEADERS)
        .chain([&SHIM_HEADER])
    {
        println!("cargo:rerun-if-changed={path}");
    }
    println!("cargo:rerun-if-changed={VALGRIND_SOURCE}");
    println!("cargo:rerun-if-env-changed=JMPCO_BINDINGS_OUT");
    build_shim();
    #[cfg(feature = "bindgen")]
    generate_bindings();
}

/// Compiles `csrc/` into `libjmpco_shim.a`, linked into the crate.
fn build_shim() {
    let mut build = cc::Build::new();
    build
        .files(SHIM_SOURCES)
        .include("csrc")
        .std("c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        // A fortified longjmp (__longjmp_chk) aborts with "longjmp causes
        // uninitialized stack frame" when it jumps to a lower stack pointer on
        // another stack, which is half of all coroutine switches.
        .flag("-U_FORTIFY_SOURCE")
        // The backends view the opaque context bytes as their own structs.
        .flag("-fno-strict-aliasing");
    if env::var_os("CARGO_FEATURE_VALGRIND").is_some() {
        build.file(VALGRIND_SOURCE);
    }
    if env::var_os("CARGO_FEATURE_ASAN").is_some() {
        // AddressSanitizer fiber annotations around every switch
        // (csrc/asan_fiber.h). Only the annotations: the shim is not built
        // with -fsanitize=address, and neither is the Rust code (stable Rust
        // has no ASan). The annotation functions are weak references, so the
        // build links without the ASan runtime and they are skipped there.
        build.define("JMPCO_ASAN", None);
        // Dependents' C code that switches (the study's raw loops) must
        // take the annotated path too.
        println!("cargo:asan=1");
    }
    if env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("x86_64") {
        // switch_sjlj.c and switch_asm.S carry an #error for other targets;
        // say it early.
        println!("cargo:warning=jmpco: only x86_64 is supported; the C shim will not build");
    }
    build.compile("jmpco_shim");
    // Where dependents' build scripts find jmpco_switch.h and the asm
    // fragments (links metadata: DEP_JMPCO_SHIM_INCLUDE).
    println!("cargo:include={}", csrc_dir());
}

/// The absolute path of `csrc/`, for dependents' build scripts, which run
/// in other directories.
fn csrc_dir() -> String {
    let root = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    format!("{root}/csrc")
}

/// Writes bindings for `csrc/jmpco_switch.h` to `$OUT_DIR/bindings.rs`, and to
/// `$JMPCO_BINDINGS_OUT` when that is set (how the regeneration script asks
/// for the file it commits).
#[cfg(feature = "bindgen")]
fn generate_bindings() {
    let bindings = bindgen::Builder::default()
        .header(SHIM_HEADER)
        .raw_line(BANNER)
        .use_core()
        .allowlist_function("jmpco_.*")
        .allowlist_type("jmpco_.*")
        .allowlist_var("JMPCO_.*")
        .layout_tests(true)
        .generate_comments(true)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen could not generate bindings for csrc/jmpco_switch.h");
    let out = std::path::PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("could not write bindings to OUT_DIR");
    if let Ok(path) = env::var("JMPCO_BINDINGS_OUT") {
        bindings
            .write_to_file(&path)
            .unwrap_or_else(|e| panic!("could not write bindings to {path}: {e}"));
    }
}

/// The banner on the committed bindings: what made them and how to remake them.
#[cfg(feature = "bindgen")]
const BANNER: &str = "\
// Generated by bindgen 0.72.1 from csrc/jmpco_switch.h -- do not edit.
// Regenerate with scripts/regen-bindings.sh (cargo build --features bindgen).
// Flags (build.rs, generate_bindings): use_core, allowlist jmpco_.* / JMPCO_.*,
// layout_tests, generate_comments.";
