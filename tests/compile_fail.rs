//! Compile-time thread-safety guarantees, checked with trybuild: programs in `tests/ui/`
//! must fail to compile with the errors recorded next to them (`*.stderr`).
//!
//! Regenerate the expected errors after a deliberate change with
//! `TRYBUILD=overwrite cargo test --test compile_fail`, then read the diff.
//!
//! Only on x86_64 Linux: what these check is compile-time and the same for every target, and
//! each trybuild run builds the crate again, which under qemu or wine costs minutes of CI
//! (and under wine cannot work at all: trybuild runs cargo from inside the test process, a
//! Linux program started from a Windows one, which fails with "Invalid handle").

#![cfg(all(
    feature = "default_jit_alloc",
    target_arch = "x86_64",
    target_os = "linux"
))]

/// `BareFn` of a `!Sync` closure is neither `Send` nor `Sync`; `BareFnSync` rejects a
/// `!Sync` closure and `BareFnMutSync` a `!Send` one; the `thunk_factory` functions do not
/// add `Send`/`Sync` that the closure lacks (`make_send` of a closure capturing a `Cell` is
/// not accepted by `BareFnSync`).
#[test]
fn send_sync_bounds() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
