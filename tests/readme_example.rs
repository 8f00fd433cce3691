//! The README shows `examples/fibonacci.rs` and `src/failure_model.md`
//! verbatim (and `src/lib.rs` includes both files themselves): this keeps
//! the README's copies from drifting.

#[test]
fn readme_example_is_examples_fibonacci_verbatim() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let example =
        std::fs::read_to_string(format!("{root}/examples/fibonacci.rs")).expect("the example");
    let marker = "<!-- examples/fibonacci.rs -->\n```rust\n";
    let start = readme.find(marker).expect("README marks the example") + marker.len();
    let len = readme[start..]
        .find("```\n")
        .expect("the example block ends");
    assert_eq!(
        &readme[start..start + len],
        example,
        "README's copy differs from the file"
    );
}

#[test]
fn readme_failure_model_is_src_failure_model_verbatim() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let table = std::fs::read_to_string(format!("{root}/src/failure_model.md")).expect("the table");
    let marker = "<!-- src/failure_model.md -->\n";
    let start = readme.find(marker).expect("README marks the table") + marker.len();
    let len = readme[start..]
        .find("<!-- end of src/failure_model.md -->")
        .expect("the table ends");
    assert_eq!(
        &readme[start..start + len],
        table,
        "README's copy differs from the file"
    );
}
