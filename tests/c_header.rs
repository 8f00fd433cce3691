//! `include/jmpco.h` is cbindgen's output for `src/ffi/`, byte for byte.
//!
//! Regenerate it with `scripts/regen-header.sh` (which runs this test with
//! `JMPCO_WRITE_HEADER=1`).

use std::path::Path;

const HEADER: &str = "include/jmpco.h";

fn generate() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(root.join("cbindgen.toml")).expect("read cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen generates the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("cbindgen writes UTF-8")
}

#[test]
fn header_matches_cbindgen_output() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fresh = generate();
    let path = root.join(HEADER);
    if std::env::var_os("JMPCO_WRITE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("write the header");
        eprintln!("wrote {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{HEADER} differs from cbindgen's output for src/ffi/: run scripts/regen-header.sh \
         and commit the result"
    );
}
