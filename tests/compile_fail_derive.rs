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
//! Only on x86_64 Linux: what these check is compile-time and the same for every target, and
//! each trybuild run builds the crate again, which under qemu or wine costs minutes of CI
//! (and under wine cannot work at all: trybuild runs cargo from inside the test process, a
//! Linux program started from a Windows one, which fails with "Invalid handle").

#![cfg(all(feature = "proc_macros", target_arch = "x86_64", target_os = "linux"))]

#[test]
fn derive_ctype_misuses() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui-derive/*.rs");
    t.pass("tests/ui-derive/pass/*.rs");
}
