//! trybuild UI tests: declarations that compile (and run), and misuses that must fail with
//! the messages in `tests/ui/fail/*.stderr`. Regenerate those with `TRYBUILD=overwrite`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
