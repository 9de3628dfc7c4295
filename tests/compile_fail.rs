//! Compile-time thread-safety guarantees, checked with trybuild: programs in `tests/ui/`
//! must fail to compile with the errors recorded next to them (`*.stderr`).
//!
//! Regenerate the expected errors after a deliberate change with
//! `TRYBUILD=overwrite cargo test --test compile_fail`, then read the diff.

#![cfg(feature = "default_jit_alloc")]

/// `BareFn` of a `!Sync` closure is neither `Send` nor `Sync`; `BareFnSync` rejects a
/// `!Sync` closure and `BareFnMutSync` a `!Send` one; the `thunk_factory` functions do not
/// add `Send`/`Sync` that the closure lacks (`make_send` of a closure capturing a `Cell` is
/// not accepted by `BareFnSync`).
#[test]
fn send_sync_bounds() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
