//! Misuses of `bare_hrtb!`, checked with trybuild: each program in `tests/ui-macros/` must
//! fail to compile with the errors recorded next to it (`*.stderr`), and the programs in
//! `tests/ui-macros/pass/` must build and run. Having a `pass` case makes trybuild *build*
//! (not just check) the failing ones, so post-monomorphization errors are seen.
//!
//! Regenerate the expected errors after a deliberate change with
//! `TRYBUILD=overwrite cargo test --features proc_macros --test compile_fail_macros`, then
//! read the diff.
//!
//! Only on x86_64 Linux: what these check is compile-time and the same for every target, and
//! each trybuild run builds the crate again, which under qemu or wine costs minutes of CI
//! (and under wine cannot work at all: trybuild runs cargo from inside the test process, a
//! Linux program started from a Windows one, which fails with "Invalid handle").

#![cfg(all(
    feature = "proc_macros",
    feature = "default_jit_alloc",
    target_arch = "x86_64",
    target_os = "linux"
))]

#[test]
fn bare_hrtb_misuses() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui-macros/*.rs");
    t.pass("tests/ui-macros/pass/*.rs");
}
