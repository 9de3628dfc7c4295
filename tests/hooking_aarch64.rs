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

use std::ffi::{c_int, c_void};
use std::sync::Mutex;

use closure_ffi::arch::aarch64::reloc::branch26;
use closure_ffi::{BareFnMut, BareFnSync};

// The peer's C library is linked only if the test names the crate.
use closure_ffi_test_support as _;

extern "C" {
    fn hook_target_scale(x: i32) -> i32;
    fn hook_call_scale(x: i32) -> i32;
    fn hook_target_square(x: i32) -> i32;
    fn hook_call_square(x: i32) -> i32;
    fn mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int;
}

const PROT_READ: c_int = 1;
const PROT_WRITE: c_int = 2;
const PROT_EXEC: c_int = 4;
const PAGE: usize = 4096;

/// Patches change the protection of code pages that several targets may share.
static PATCHING: Mutex<()> = Mutex::new(());

/// Writes `word` at `at` (code of this program) and makes it visible to instruction fetch;
/// returns the word it replaced.
///
/// # Safety
/// `at` must be the entry of a function that no thread runs while it is patched.
unsafe fn patch(at: *const u8, word: u32) -> u32 {
    let _guard = PATCHING.lock().unwrap();
    let page = (at as usize & !(PAGE - 1)) as *mut c_void;
    // SAFETY: `page..page + 2 * PAGE` is mapped code of this program (the patched word lies
    // in the first page; the second covers nothing else that runs meanwhile).
    unsafe {
        assert_eq!(
            mprotect(page, 2 * PAGE, PROT_READ | PROT_WRITE | PROT_EXEC),
            0
        );
        let slot = at.cast_mut().cast::<u32>();
        let old = slot.read();
        slot.write(word);
        core::arch::asm!(
            "dc cvau, {a}",
            "dsb ish",
            "ic ivau, {a}",
            "dsb ish",
            "isb",
            a = in(reg) at,
            options(nostack, preserves_flags),
        );
        assert_eq!(mprotect(page, 2 * PAGE, PROT_READ | PROT_EXEC), 0);
        old
    }
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
