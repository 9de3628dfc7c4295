//! Closures: a closure's code is a trampoline in JIT memory:
//!
//! ```text
//!  68 <imm32>   push header     (the closure's ClosureHeader)
//!  E9 <rel32>   jmp entry       (every i386 address is within reach)
//! ```
//!
//! Pushing the header leaves eax, edx and ecx alone: the register convention uses all
//! three. The entry saves them in the plan's register-part layout, reserves the header's
//! scratch size and calls [`closure_inner_i386`], which builds the argument pointer array by
//! the plan, runs the callback and converts its result into return registers, the x87
//! value to load and the number of argument bytes to pop. The entry then returns with that
//! pop (a `ret N` whose N comes from the plan), having dropped the header slot as well.

use core::mem::offset_of;

use super::call::fp_kind;
use super::{Convention, RetRegs, FP_F32, RET_REGS};
use crate::arch::marshal::{invoke_closure, load_ret};

pub(crate) use crate::arch::marshal::ClosureHeader;

pub(crate) use crate::arch::marshal::scratch_bytes;

// In: [esp] = &ClosureHeader (pushed by the trampoline), [esp + 4] = return address,
// [esp + 8] = the stack arguments; eax, edx, ecx as the caller left them.
// Frame: [ebp + 4] header, [ebp + 8] return address, [ebp + 12] stack arguments;
// [ebp - 0x40] RetRegs (0x30), [ebp - 0x10] saves of eax, edx, ecx (the register part).
// Out: eax, edx, st(0) per the plan; esp past the return address and `pop` bytes.
asm_function!(
    "closure_ffi_6_closure_i386",
    [
        ".cfi_def_cfa_offset 8",        // the header slot sits above the return address
        "push ebp",
        ".cfi_def_cfa_offset 12",
        ".cfi_offset ebp, -12",
        "mov ebp, esp",
        ".cfi_def_cfa_register ebp",
        "sub esp, 0x40",
        "mov [ebp - 0x10], eax",
        "mov [ebp - 0x0c], edx",
        "mov [ebp - 0x08], ecx",
        "mov ecx, [ebp + 4]",           // header
        "mov eax, [ecx]",               // scratch bytes, a multiple of 16
        probe_and_reserve32!("eax"),
        "and esp, -16",
        "mov eax, esp",                 // inner(header, regs, stack, scratch): 16 bytes of
        "push eax",                     // arguments keep esp 16-aligned at the call
        "lea eax, [ebp + 12]",
        "push eax",
        "lea eax, [ebp - 0x40]",
        "push eax",
        "push ecx",
        "call {inner}",
        "mov ecx, [ebp - 0x40 + {fp}]", // the x87 value to return: none, float, double, x87
        "cmp ecx, {fp_f32}",
        "jb 4f",
        "je 5f",
        "cmp ecx, {fp_f32} + 1",
        "je 6f",
        "fld tbyte ptr [ebp - 0x40 + {x87}]",
        "jmp 4f",
        "5:",
        "fld dword ptr [ebp - 0x40 + {f32}]",
        "jmp 4f",
        "6:",
        "fld qword ptr [ebp - 0x40 + {f64}]",
        "4:",
        "mov eax, [ebp - 0x40 + {eax}]",
        "mov edx, [ebp - 0x40 + {edx}]",
        "mov ecx, [ebp - 0x40 + {pop}]",// bytes of stack arguments the callee pops
        "lea ecx, [ebp + ecx + 8]",     // the return address moves up by that much
        "push dword ptr [ebp + 8]",     // (memory to memory: eax and edx are taken)
        "pop dword ptr [ecx]",
        "mov esp, ebp",
        "pop ebp",
        ".cfi_def_cfa esp, 8",
        ".cfi_restore ebp",
        "mov esp, ecx",                 // drops the header slot and the popped arguments
        ".cfi_def_cfa esp, 4",
        "ret",
    ],
    eax = const offset_of!(RetRegs, eax),
    edx = const offset_of!(RetRegs, edx),
    fp = const offset_of!(RetRegs, fp),
    pop = const offset_of!(RetRegs, pop),
    f32 = const offset_of!(RetRegs, f32),
    f64 = const offset_of!(RetRegs, f64),
    x87 = const offset_of!(RetRegs, x87),
    fp_f32 = const FP_F32,
    inner = sym closure_inner_i386,
);

const _: () = assert!(super::FP_F64 == FP_F32 + 1 && super::FP_X87 == FP_F32 + 2);
const _: () = assert!(RET_REGS == 0x30);

extern "C" {
    fn closure_ffi_6_closure_i386();
}

/// The entry a closure's trampoline jumps to (one for every convention).
pub(crate) fn closure_entry(_conv: Convention) -> *const u8 {
    closure_ffi_6_closure_i386 as *const u8
}

/// Bytes of a closure trampoline (see the module docs).
pub(crate) const TRAMPOLINE_SIZE: usize = 16;

/// Encodes the trampoline that pushes `header` and jumps to `entry`, for code that will
/// execute at `rx`.
pub(crate) fn trampoline(
    rx: *const u8,
    header: *const ClosureHeader,
    entry: *const u8,
) -> [u8; TRAMPOLINE_SIZE] {
    encode_trampoline(rx as u32, header as u32, entry as u32)
}

/// [`trampoline`] over plain addresses.
fn encode_trampoline(rx: u32, header: u32, entry: u32) -> [u8; TRAMPOLINE_SIZE] {
    let mut code = [0xCC; TRAMPOLINE_SIZE]; // int3 padding
    code[0] = 0x68; // push imm32
    code[1..5].copy_from_slice(&header.to_le_bytes());
    code[5] = 0xE9; // jmp rel32, relative to the end of the instruction
    let rel = entry.wrapping_sub(rx.wrapping_add(10));
    code[6..10].copy_from_slice(&rel.to_le_bytes());
    code
}

/// The closure entry's Rust half, called by `closure_ffi_6_closure_i386` with its frame:
/// builds the argument pointers by the plan, runs the callback and stores its result, the
/// x87 kind and the pop count into `regs`.
///
/// # Safety
/// `header` is a live closure's header; `regs` is followed by the register save area in the
/// plan's register-part layout; `stack` is the caller's first stack argument; `scratch` has
/// `header.scratch_bytes` writable bytes, 16-aligned.
unsafe extern "C" fn closure_inner_i386(
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
        let regs = &mut *regs;
        regs.pop = plan.callee_pop;
        regs.fp = fp_kind(&plan.ret);
        load_ret(&plan.ret, regs, ret);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trampoline_encoding() {
        let code = encode_trampoline(0x1000, 0x1122_3344, 0x2000);
        assert_eq!(code[0], 0x68);
        assert_eq!(
            u32::from_le_bytes(code[1..5].try_into().unwrap()),
            0x1122_3344
        );
        assert_eq!(code[5], 0xE9);
        assert_eq!(
            u32::from_le_bytes(code[6..10].try_into().unwrap()),
            0x2000 - 0x100A
        );
        // Backwards jumps wrap.
        let back = encode_trampoline(0x2000, 0, 0x1000);
        assert_eq!(
            i32::from_le_bytes(back[6..10].try_into().unwrap()),
            0x1000 - 0x200A
        );
    }
}
