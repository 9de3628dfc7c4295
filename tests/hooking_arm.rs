//! Function hooks on 32-bit Arm, where no detour crate builds (retour patches x86 code only,
//! see tests/hooking.rs): the entry of a C function (`test-support/c/hook_target.c`, whose
//! instruction set gcc chooses: bit 0 of its address says T32) is replaced by an absolute
//! jump to a thunk, so that calls made by C code run a Rust closure; restoring the bytes
//! restores the function. The jump is a load into `pc` (`ldr pc, [pc, #-4]` in A32,
//! `ldr.w pc, [pc, #n]` in T32) followed by the thunk's address, which interworks: the
//! thunk's own bit 0 selects its instruction set. Debian's arm-linux-gnueabihf-gcc 12 emits
//! T32 by default, for both Rust targets, so the C targets here are T32 (4-byte aligned, so
//! the literal directly follows the load); the A32 branch of [`jump`] is not exercised.

#![cfg(all(
    target_arch = "arm",
    target_os = "linux",
    feature = "default_jit_alloc"
))]

mod common;

use closure_ffi::{BareFnMut, BareFnSync};

// The peer's C library is linked only if the test names the crate.
use closure_ffi_test_support as _;

extern "C" {
    fn hook_target_poly(x: i32) -> i32;
    fn hook_call_poly(x: i32) -> i32;
    fn hook_target_poly2(x: i32) -> i32;
    fn hook_call_poly2(x: i32) -> i32;
}

fn poly(x: i32) -> i32 {
    ((x * 3 + 7) * x - 11) ^ 5
}

fn poly2(x: i32) -> i32 {
    ((x * 5 - 3) * x + 13) ^ 9
}

/// The bytes of an absolute jump to `thunk` (a function pointer) written at the function
/// pointer `target`: A32 `ldr pc, [pc, #-4]` (E51FF004) + address; T32 `ldr.w pc, [pc,
/// #n]` (F8DF F00n) + address, the address at the first 4-byte boundary after the load
/// (a load into pc must be aligned), `n` counted from `Align(PC, 4)`.
fn jump(target: *const u8, thunk: *const u8) -> Vec<u8> {
    let at = target as usize & !1;
    let mut out = Vec::new();
    if target as usize & 1 == 0 {
        out.extend_from_slice(&0xE51F_F004u32.to_le_bytes());
    } else {
        let literal = (at + 4).next_multiple_of(4);
        let imm = literal - ((at + 4) & !3);
        out.extend_from_slice(&0xF8DFu16.to_le_bytes());
        out.extend_from_slice(&(0xF000u16 | imm as u16).to_le_bytes());
        out.resize(literal - at, 0);
    }
    out.extend_from_slice(&(thunk as u32).to_le_bytes());
    out
}

/// Writes `bytes` at the code of the function pointer `target` (bit 0 cleared), returning
/// the bytes they replaced.
///
/// # Safety
/// `target` must be a function longer than `bytes` that no thread runs while it is patched.
unsafe fn patch(target: *const u8, bytes: &[u8]) -> Vec<u8> {
    // SAFETY: the caller's contract; the hook targets are alone in their part of the text.
    unsafe { common::code_patch::patch((target as usize & !1) as *mut u8, bytes) }
}

#[test]
fn stateful_closure_hooks_a_c_function_called_from_c() {
    let mut log = Vec::new();
    let factor = std::hint::black_box(10);
    let hook = BareFnMut::new_c(|x: i32| -> i32 {
        log.push(x);
        x * factor
    });
    let target = hook_target_poly as *const u8;
    // SAFETY: only this test runs `hook_target_poly` (18 bytes in T32, 24 in A32, against
    // at most 10 patched); the thunk outlives the patch.
    let original = unsafe { patch(target, &jump(target, hook.bare() as *const u8)) };
    // SAFETY: C functions; while patched, the hook is alive.
    let hooked = unsafe { (hook_call_poly(3), hook_call_poly(-4), hook_target_poly(5)) };
    // SAFETY: as above.
    unsafe { patch(target, &original) };
    // SAFETY: a plain C function again.
    let restored = unsafe { hook_call_poly(3) };
    drop(hook);
    assert_eq!(hooked, (30, -40, 50));
    assert_eq!(restored, poly(3));
    assert_eq!(log, [3, -4, 5]);
}

#[test]
fn shared_closure_hook_from_several_threads() {
    let offset = std::hint::black_box(1000);
    let hook = BareFnSync::new_c(move |x: i32| -> i32 { x + offset });
    let target = hook_target_poly2 as *const u8;
    // SAFETY: only this test runs `hook_target_poly2`; the thunk outlives the patch.
    let original = unsafe { patch(target, &jump(target, hook.bare() as *const u8)) };
    std::thread::scope(|s| {
        for t in 0..4 {
            s.spawn(move || {
                for x in 0..100 {
                    // SAFETY: a C function that calls the patched one; the hook is alive.
                    assert_eq!(unsafe { hook_call_poly2(x + t) }, x + t + 1000);
                }
            });
        }
    });
    // SAFETY: as above.
    unsafe { patch(target, &original) };
    // SAFETY: a plain C function again.
    assert_eq!(unsafe { hook_call_poly2(5) }, poly2(5));
}
