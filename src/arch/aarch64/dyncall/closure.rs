//! Closures: a closure's code is a trampoline in JIT memory:
//!
//! ```text
//!  +0   58000091   ldr x17, +16     ; x17 = the closure's ClosureHeader
//!  +4   580000b0   ldr x16, +24     ; x16 = the entry
//!  +8   d61f0200   br  x16
//!  +12  00000000   udf #0           ; padding, never executed
//!  +16  <u64 header>
//!  +24  <u64 entry>
//! ```
//!
//! x16 and x17 (IP0, IP1) are the registers AAPCS64 gives veneers: no argument travels in
//! them, so the trampoline leaves x0-x8 and q0-q7 alone. The entry saves them in the plan's
//! register-part layout, reserves the header's scratch size and calls
//! [`closure_inner_aapcs64`], which builds the argument pointer array by the plan, runs the
//! callback and converts its result into the return registers x0, x1, q0-q3, which the
//! entry loads before returning.

use super::{Convention, RetRegs, REG_BLOCK, RET_REGS};
use crate::arch::marshal::{invoke_closure, load_ret};

pub(crate) use crate::arch::marshal::ClosureHeader;

pub(crate) use crate::arch::marshal::scratch_bytes;

/// Bytes the entry reserves below its frame record: the return registers, then the
/// register part of the frame.
const SAVE: usize = RET_REGS + REG_BLOCK;
const _: () = assert!(SAVE == 0x120 && SAVE % 16 == 0);

// In: x17 = &ClosureHeader (loaded by the trampoline), x0-x8 and q0-q7 as the caller left
// them, [sp] = the caller's stack arguments.
// Frame: [x29] saved x29, x30; [x29 + 16] the stack arguments; [x29 - 0x120] RetRegs
// (0x50), [x29 - 0xd0] the register part (x0-x7, x8, q0-q7), below it the scratch.
// Out: x0, x1, q0-q3 per the plan; callee-saved registers preserved (the Rust half saves
// what it uses).
asm_function!(
    "closure_ffi_6_closure_aapcs64",
    [
        "hint #34",                     // bti c: a valid `br x16` target under BTI
        "stp x29, x30, [sp, #-16]!",
        ".cfi_def_cfa_offset 16",
        ".cfi_offset x29, -16",
        ".cfi_offset x30, -8",
        "mov x29, sp",
        ".cfi_def_cfa x29, 16",
        "sub sp, sp, #{save}",
        "stp x0, x1, [sp, #{regs} + 0]",// the register part, as aapcs64.rs lays it out
        "stp x2, x3, [sp, #{regs} + 16]",
        "stp x4, x5, [sp, #{regs} + 32]",
        "stp x6, x7, [sp, #{regs} + 48]",
        "str x8, [sp, #{regs} + 64]",
        "stp q0, q1, [sp, #{regs} + 80]",
        "stp q2, q3, [sp, #{regs} + 112]",
        "stp q4, q5, [sp, #{regs} + 144]",
        "stp q6, q7, [sp, #{regs} + 176]",
        "ldr x9, [x17]",                // scratch bytes, a multiple of 16
        probe_and_reserve64!("x9"),
        "mov x0, x17",                  // inner(header, ret regs, stack, scratch)
        "sub x1, x29, #{save}",
        "add x2, x29, #16",
        "mov x3, sp",
        "bl {inner}",
        "sub x9, x29, #{save}",         // the return registers the Rust half set
        "ldp x0, x1, [x9]",
        "ldp q0, q1, [x9, #16]",
        "ldp q2, q3, [x9, #48]",
        "mov sp, x29",
        "ldp x29, x30, [sp], #16",
        ".cfi_def_cfa sp, 0",
        ".cfi_restore x29",
        ".cfi_restore x30",
        "ret",
    ],
    save = const SAVE,
    regs = const RET_REGS,
    inner = sym closure_inner_aapcs64,
);

const _: () = assert!(super::RET_X0 == 0 && super::RET_Q0 == 16);

extern "C" {
    fn closure_ffi_6_closure_aapcs64();
}

/// The entry a closure's trampoline jumps to.
pub(crate) fn closure_entry(_conv: Convention) -> *const u8 {
    closure_ffi_6_closure_aapcs64 as *const u8
}

/// Bytes of a closure trampoline (see the module docs).
pub(crate) const TRAMPOLINE_SIZE: usize = 32;

/// `ldr x17, #16` (LDR literal, 64-bit, imm19 = 4, Rt = 17).
const LDR_X17_16: u32 = 0x5800_0000 | (4 << 5) | 17;
/// `ldr x16, #20` (imm19 = 5, Rt = 16): from +4 to the entry literal at +24.
const LDR_X16_20: u32 = 0x5800_0000 | (5 << 5) | 16;
/// `br x16` (Rn = 16).
const BR_X16: u32 = 0xD61F_0000 | (16 << 5);
/// `udf #0`.
const UDF: u32 = 0;

/// Encodes the trampoline that loads `header` into x17 and jumps to `entry` (position
/// independent: `rx` is not needed).
pub(crate) fn trampoline(
    _rx: *const u8,
    header: *const ClosureHeader,
    entry: *const u8,
) -> [u8; TRAMPOLINE_SIZE] {
    encode_trampoline(header as u64, entry as u64)
}

/// [`trampoline`] over plain addresses.
fn encode_trampoline(header: u64, entry: u64) -> [u8; TRAMPOLINE_SIZE] {
    let mut code = [0u8; TRAMPOLINE_SIZE];
    for (i, word) in [LDR_X17_16, LDR_X16_20, BR_X16, UDF].iter().enumerate() {
        code[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    code[16..24].copy_from_slice(&header.to_le_bytes());
    code[24..32].copy_from_slice(&entry.to_le_bytes());
    code
}

/// The closure entry's Rust half, called by `closure_ffi_6_closure_aapcs64` with its
/// frame: builds the argument pointers by the plan, runs the callback and stores its result
/// into `regs`.
///
/// # Safety
/// `header` is a live closure's header; `regs` is followed by the register save area in the
/// plan's register-part layout; `stack` is the caller's first stack argument; `scratch` has
/// `header.scratch_bytes` writable bytes, 16-aligned.
unsafe extern "C" fn closure_inner_aapcs64(
    header: *const ClosureHeader,
    regs: *mut RetRegs,
    stack: *const u8,
    scratch: *mut u8,
) {
    // SAFETY: see the function's contract. Frame offsets come from the plan: below
    // `reg_block` they index the save area, past it the caller's stack arguments, which the
    // caller set up for this very signature.
    unsafe {
        let saves = regs.cast::<u8>().add(RET_REGS);
        let ret = invoke_closure(header, saves, stack, scratch);
        let plan = &*(*header).plan;
        // The callee need not return an indirect result's address (gcc's do not); x0 = x8
        // is harmless.
        load_ret(&plan.ret, &mut *regs, ret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trampoline_encoding() {
        let code = encode_trampoline(0x1122_3344_5566_7788, 0x0000_aaaa_bbbb_cccc);
        let word = |i: usize| u32::from_le_bytes(code[4 * i..4 * i + 4].try_into().unwrap());
        // As `aarch64-linux-gnu-as` encodes `ldr x17, .+16; ldr x16, .+20; br x16`.
        assert_eq!(word(0), 0x5800_0091);
        assert_eq!(word(1), 0x5800_00b0);
        assert_eq!(word(2), 0xd61f_0200);
        assert_eq!(word(3), 0);
        assert_eq!(&code[16..24], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&code[24..32], &0x0000_aaaa_bbbb_ccccu64.to_le_bytes());
    }
}
