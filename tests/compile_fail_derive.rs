//! Misuses of `#[derive(CType)]`, checked with trybuild: each program in `tests/ui-derive/`
//! must fail to compile with the errors recorded next to it (`*.stderr`), and the programs
//! in `tests/ui-derive/pass/` must build and run. Having a `pass` case makes trybuild
//! *build* (not just check) the failing ones, so the `const` assertions the derive emits
//! (evaluated at monomorphization) are seen.
//!
//! Regenerate the expected errors after a deliberate change with
//! `TRYBUILD=overwrite cargo test --features proc_macros --test compile_fail_derive`, then
//! read the diff.
//!
//! Not on Windows: trybuild runs cargo from inside the test process, which under wine is a
//! Linux program started from a Windows one and fails ("Invalid handle"). What these check
//! is compile-time and the same for every target; the Linux run covers it.

#![cfg(all(feature = "proc_macros", target_arch = "x86_64", not(windows)))]

#[test]
fn derive_ctype_misuses() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui-derive/*.rs");
    t.pass("tests/ui-derive/pass/*.rs");
}
