//! Function hooks on aarch64, where no detour crate builds (retour patches x86 code only, see
//! tests/hooking.rs): the first word of a C function (`test-support/c/hook_target.c`) is
//! replaced by a `B` to a thunk, so that calls made by C code run a stateful Rust closure;
//! restoring the word restores the function. The pool maps thunks near the program's code,
//! so a single `B` (±128 MiB) reaches them.

#![cfg(all(
    target_arch = "aarch64",
    target_os = "linux",
    feature = "default_jit_alloc"
))]

mod common;

use closure_ffi::arch::aarch64::reloc::branch26;
use closure_ffi::{BareFnMut, BareFnSync};

// The peer's C library is linked only if the test names the crate.
use closure_ffi_test_support as _;

extern "C" {
    fn hook_target_scale(x: i32) -> i32;
    fn hook_call_scale(x: i32) -> i32;
    fn hook_target_square(x: i32) -> i32;
    fn hook_call_square(x: i32) -> i32;
}

/// Writes `word` at `at` (a function's entry), returning the word it replaced.
///
/// # Safety
/// `at` must be the entry of a function that no thread runs while it is patched.
unsafe fn patch(at: *const u8, word: u32) -> u32 {
    // SAFETY: the caller's contract; the hook targets are alone in their part of the text.
    let old = unsafe { common::code_patch::patch(at.cast_mut(), &word.to_le_bytes()) };
    u32::from_le_bytes(old.try_into().unwrap())
}

/// `B thunk`, written at `target`'s entry.
fn branch_to(target: *const u8, thunk: *const u8) -> u32 {
    branch26(target as u64, thunk as u64).expect("the thunk lies within ±128 MiB")
}

#[test]
fn stateful_closure_hooks_a_c_function_called_from_c() {
    let mut log = Vec::new();
    let factor = std::hint::black_box(10);
    let hook = BareFnMut::new_c(|x: i32| -> i32 {
        log.push(x);
        x * factor
    });
    let target = hook_target_square as *const u8;
    // SAFETY: only this test runs `hook_target_square`; the thunk outlives the patch.
    let original = unsafe { patch(target, branch_to(target, hook.bare() as *const u8)) };
    // SAFETY: C functions; while patched, the hook is alive.
    let hooked = unsafe {
        (
            hook_call_square(3),
            hook_call_square(-4),
            hook_target_square(5),
        )
    };
    // SAFETY: as above.
    unsafe { patch(target, original) };
    // SAFETY: a plain C function again.
    let restored = unsafe { hook_call_square(3) };
    drop(hook);
    assert_eq!(hooked, (30, -40, 50));
    assert_eq!(restored, 3 * 3 - 5);
    assert_eq!(log, [3, -4, 5]);
}

#[test]
fn shared_closure_hook_from_several_threads() {
    let offset = std::hint::black_box(1000);
    let hook = BareFnSync::new_c(move |x: i32| -> i32 { x + offset });
    let target = hook_target_scale as *const u8;
    // SAFETY: only this test runs `hook_target_scale`; the thunk outlives the patch.
    let original = unsafe { patch(target, branch_to(target, hook.bare() as *const u8)) };
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for x in 0..100 {
                    // SAFETY: a C function that calls the patched one; the hook is alive.
                    assert_eq!(unsafe { hook_call_scale(x + t) }, x + t + 1000);
                }
            });
        }
    });
    // SAFETY: as above.
    unsafe { patch(target, original) };
    // SAFETY: a plain C function again.
    assert_eq!(unsafe { hook_call_scale(5) }, 16);
}
