//! Misuses of `bare_hrtb!`, checked with trybuild: each program in `tests/ui-macros/` must
//! fail to compile with the errors recorded next to it (`*.stderr`), and the programs in
//! `tests/ui-macros/pass/` must build and run. Having a `pass` case makes trybuild *build*
//! (not just check) the failing ones, so post-monomorphization errors are seen.
//!
//! Regenerate the expected errors after a deliberate change with
//! `TRYBUILD=overwrite cargo test --features proc_macros --test compile_fail_macros`, then
//! read the diff.
//!
//! Not on Windows: trybuild runs cargo from inside the test process, which under wine is a
//! Linux program started from a Windows one and fails ("Invalid handle"). What these check
//! is compile-time and the same for every target; the Linux run covers it.

#![cfg(all(feature = "proc_macros", feature = "default_jit_alloc", not(windows)))]

#[test]
fn bare_hrtb_misuses() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui-macros/*.rs");
    t.pass("tests/ui-macros/pass/*.rs");
}
