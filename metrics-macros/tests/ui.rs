//! Misuse is a compile error at the offending token, with a message saying what to do.
//! Regenerate the expected output with `TRYBUILD=overwrite` and review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
