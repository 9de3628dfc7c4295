//! Closures: a closure's code is a 16-byte trampoline in JIT memory, in the build's
//! instruction set (the closure's code pointer is `rx`, with bit 0 set for T32):
//!
//! ```text
//!  A32                                      T32
//!  +0   e59fc000  ldr ip, [pc, #0]          f8df c004  ldr.w ip, [pc, #4]
//!  +4   e59ff000  ldr pc, [pc, #0]          f8df f004  ldr.w pc, [pc, #4]
//!  +8   <header>                            <header>
//!  +12  <entry>                             <entry>
//! ```
//!
//! (A32 reads pc as the instruction's address + 8, T32 as + 4 rounded down to 4, so both
//! loads find the two words at +8 and +12.) ip (r12) is the register the AAPCS lets
//! veneers clobber between a call and its callee, so no caller expects it preserved (libffi
//! passes its closure the same way). The load into pc interworks: the entry runs in its own
//! instruction set whatever the trampoline's.
//!
//! The entry pushes r0..r3 and then d0..d7 right below the caller's stack arguments, which
//! is the plan's frame layout (`aapcs32.rs`), reserves the header's scratch size and calls
//! [`closure_inner_arm`], which builds the argument pointer array by the plan, runs the
//! callback and converts its result into the return registers the entry then loads.

use super::{Convention, RetRegs, RET_D0, RET_R0, RET_REGS};
use crate::arch::arm::aapcs32::REG_BLOCK;
use crate::arch::marshal::{invoke_closure, load_ret};

pub(crate) use crate::arch::marshal::ClosureHeader;

pub(crate) use crate::arch::marshal::scratch_bytes;

/// Bytes the entry saves below the caller's stack arguments: the plan's register part.
const SAVES: u32 = 64 + 16;
const _: () = assert!(SAVES == REG_BLOCK);

// In: ip = &ClosureHeader (from the trampoline), lr = the return address, r0..r3 and
// d0..d7 as the caller left them, sp = the caller's stack arguments (8-aligned).
//
//  caller sp -> | stack arguments ...
//  r5        -> | s0..s15 (d0..d7) | r0..r3 |   the plan's register part (80 bytes)
//               | r4 r5 r6 lr |                 (pushed)
//  r6        -> | RetRegs (40) |
//               ... probe pages, reserve scratch_bytes, align to 16 ...
//  sp        -> | scratch |
//
// Out: r0, r1, d0..d3 from RetRegs; sp = the caller's sp.
asm_function!(
    "closure_ffi_6_closure_arm",
    [
        "push {{r0, r1, r2, r3}}",     // the core registers, just below the stack arguments
        "vpush {{d0-d7}}",             // the VFP registers below them
        "push {{r4, r5, r6, lr}}",
        "mov r4, r12",                 // header
        "add r5, sp, #16",             // the register part
        "sub sp, sp, #{ret_regs}",
        "mov r6, sp",                  // RetRegs
        "ldr r0, [r4]",                // scratch bytes, a multiple of 16
        probe_and_reserve!("r0"),
        "mov r0, r4",                  // inner(header, regs, saves, scratch)
        "mov r1, r6",
        "mov r2, r5",
        "mov r3, sp",
        "bl {inner}",
        "ldr r0, [r6, #{r0}]",
        "ldr r1, [r6, #{r1}]",
        "add r12, r6, #{d0}",
        "vldmia r12, {{d0-d3}}",
        "add r12, r6, #{ret_regs}",    // back to the pushed registers
        "mov sp, r12",
        "pop {{r4, r5, r6, lr}}",
        "add sp, sp, #{saves}",        // drop the saves: sp = the caller's sp
        "bx lr",                       // to A32 or T32 by lr's bit 0
    ],
    ret_regs = const RET_REGS,
    r0 = const RET_R0,
    r1 = const RET_R0 + 4,
    d0 = const RET_D0,
    saves = const SAVES,
    inner = sym closure_inner_arm,
);

extern "C" {
    fn closure_ffi_6_closure_arm();
}

/// The entry a closure's trampoline jumps to (one for both conventions), with bit 0 set if
/// it is T32 code (a function pointer's form, which the trampoline's `ldr pc` honours).
pub(crate) fn closure_entry(_conv: Convention) -> *const u8 {
    closure_ffi_6_closure_arm as *const u8
}

/// Bytes of a closure trampoline (see the module docs).
pub(crate) const TRAMPOLINE_SIZE: usize = 16;

/// Encodes the trampoline that loads `header` into ip and jumps to `entry`, in the
/// build's instruction set (the code does not depend on where it runs).
pub(crate) fn trampoline(
    _rx: *const u8,
    header: *const ClosureHeader,
    entry: *const u8,
) -> [u8; TRAMPOLINE_SIZE] {
    encode_trampoline(
        crate::arch::native::MODE == crate::arch::arm::Mode::Thumb,
        header as u32,
        entry as u32,
    )
}

/// [`trampoline`] over plain addresses, in T32 if `thumb`, else A32.
fn encode_trampoline(thumb: bool, header: u32, entry: u32) -> [u8; TRAMPOLINE_SIZE] {
    let mut code = [0u8; TRAMPOLINE_SIZE];
    let (load_ip, load_pc): ([u8; 4], [u8; 4]) = if thumb {
        // ldr.w Rt, [pc, #4] (T2: f8df, Rt:imm12), each halfword little-endian.
        ([0xDF, 0xF8, 0x04, 0xC0], [0xDF, 0xF8, 0x04, 0xF0])
    } else {
        // ldr Rt, [pc, #0] (A1: e59f Rt:imm12).
        (0xE59F_C000u32.to_le_bytes(), 0xE59F_F000u32.to_le_bytes())
    };
    code[0..4].copy_from_slice(&load_ip);
    code[4..8].copy_from_slice(&load_pc);
    code[8..12].copy_from_slice(&header.to_le_bytes());
    code[12..16].copy_from_slice(&entry.to_le_bytes());
    code
}

/// The closure entry's Rust half, called by `closure_ffi_6_closure_arm` with its frame:
/// builds the argument pointers by the plan, runs the callback and stores its result into
/// `regs`.
///
/// # Safety
/// `header` is a live closure's header; `saves` is the register part in the plan's layout,
/// directly followed by the caller's stack arguments; `regs` is writable (uninitialized);
/// `scratch` has `header.scratch_bytes` writable bytes, 16-aligned.
unsafe extern "C" fn closure_inner_arm(
    header: *const ClosureHeader,
    regs: *mut RetRegs,
    saves: *mut u8,
    scratch: *mut u8,
) {
    // SAFETY: see the function's contract. Frame offsets come from the plan: below
    // `reg_block` they index the saves, past it the caller's stack arguments (which follow
    // the saves: an argument split between r3 and the stack is read in one piece).
    unsafe {
        let plan = &*(*header).plan;
        let stack = saves.add(plan.reg_block as usize);
        let ret = invoke_closure(header, saves, stack, scratch);
        // The entry's area is uninitialized stack: registers the plan does not name come
        // back as zeros, not as what an earlier call left there.
        regs.write(RetRegs::default());
        // (The AAPCS does not ask for an indirect result's address back; libffi returns it.)
        load_ret(&plan.ret, &mut *regs, ret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trampoline_encoding() {
        let a32 = encode_trampoline(false, 0x1122_3344, 0x5566_7788);
        assert_eq!(
            a32,
            [
                0x00, 0xC0, 0x9F, 0xE5, // ldr ip, [pc, #0]
                0x00, 0xF0, 0x9F, 0xE5, // ldr pc, [pc, #0]
                0x44, 0x33, 0x22, 0x11, 0x88, 0x77, 0x66, 0x55
            ]
        );
        let t32 = encode_trampoline(true, 0x1122_3344, 0x5566_7789);
        assert_eq!(
            t32,
            [
                0xDF, 0xF8, 0x04, 0xC0, // ldr.w ip, [pc, #4]
                0xDF, 0xF8, 0x04, 0xF0, // ldr.w pc, [pc, #4]
                0x44, 0x33, 0x22, 0x11, 0x89, 0x77, 0x66, 0x55
            ]
        );
    }

    #[test]
    fn trampolines_disassemble_as_documented() {
        use capstone::arch::arm::ArchMode;
        use capstone::arch::BuildsCapstone;
        use capstone::Capstone;

        for (thumb, mode) in [(false, ArchMode::Arm), (true, ArchMode::Thumb)] {
            let cs = Capstone::new().arm().mode(mode).build().unwrap();
            let code = encode_trampoline(thumb, 0x1122_3344, 0x5566_7788);
            let insns = cs.disasm_all(&code[..8], 0).unwrap();
            let text: Vec<String> = insns
                .iter()
                .map(|i| format!("{} {}", i.mnemonic().unwrap(), i.op_str().unwrap_or("")))
                .collect();
            // Both loads read the words at +8 (ip) and +12 (pc): A32 reads pc as the
            // instruction's address + 8, T32 as + 4 (4-aligned).
            let want = if thumb {
                ["ldr.w ip, [pc, #4]", "ldr.w pc, [pc, #4]"]
            } else {
                ["ldr ip, [pc]", "ldr pc, [pc]"]
            };
            assert_eq!(text, want, "{mode:?}");
        }
    }
}
