//! The README shows `examples/fibonacci.rs` verbatim (and `src/lib.rs`
//! includes the file itself): this keeps the README's copy from drifting.

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
