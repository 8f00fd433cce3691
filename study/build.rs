//! Records how the study was built, for the header of its report: the cargo
//! profile and opt-level, rustc's version, the target, RUSTFLAGS, and the C
//! compiler that `cc` uses for jmpco's shim (with `CFLAGS`, if set).

use std::env;
use std::process::Command;

fn main() {
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
