//! Closures: a closure's code is a trampoline in JIT memory:
//!
//! ```text
//!  49 BA <imm64>   movabs r10, header     (the closure's ClosureHeader)
//!  E9 <rel32>      jmp entry              (when the entry is within +-2 GiB, else:)
//!  49 BB <imm64>   movabs r11, entry
//!  41 FF E3        jmp r11
//! ```
//!
//! r10 and r11 are scratch registers that carry no argument in either ABI. The entry saves
//! the argument registers in the plan's register-part layout, reserves the header's scratch
//! size, and calls [`decode_and_invoke`], which builds the argument pointer array by the
//! plan, runs the callback and converts its result into return registers. (A Cif's compiled
//! closure entry replaces the entry and the decoding.)

use core::mem::offset_of;

use super::{Convention, RetRegs, RET_REGS};
use crate::arch::marshal::{invoke_closure, load_ret};
use crate::dynamic::plan::RetPlan;

pub(crate) use crate::arch::marshal::ClosureHeader;

/// Offset of `invoke` in the header, used by compiled closure entries.
pub(crate) const HEADER_INVOKE: usize = offset_of!(ClosureHeader, invoke);
const _: () = assert!(HEADER_INVOKE == crate::arch::x86::jitcall::HEADER_INVOKE as usize);

pub(crate) use crate::arch::marshal::scratch_bytes;

// ---- System V closure entry ---------------------------------------------------------------
//
// In: r10 = &ClosureHeader, argument registers and stack as the caller left them.
// Frame below rbp: [rbp - 0xd0] RetRegs (0x60), [rbp - 0x70] saves (rdi..r9, xmm0..7).
asm_function!(
    "closure_ffi_6_closure_sysv64",
    [
        frame_prologue!(),
        "sub rsp, 0xd0",
        "mov [rbp - 0x70], rdi",
        "mov [rbp - 0x68], rsi",
        "mov [rbp - 0x60], rdx",
        "mov [rbp - 0x58], rcx",
        "mov [rbp - 0x50], r8",
        "mov [rbp - 0x48], r9",
        "movq [rbp - 0x40], xmm0",
        "movq [rbp - 0x38], xmm1",
        "movq [rbp - 0x30], xmm2",
        "movq [rbp - 0x28], xmm3",
        "movq [rbp - 0x20], xmm4",
        "movq [rbp - 0x18], xmm5",
        "movq [rbp - 0x10], xmm6",
        "movq [rbp - 0x08], xmm7",
        "mov rax, [r10]",               // scratch bytes, a multiple of 16
        probe_and_reserve!("rax"),
        "mov rdi, r10",                 // header
        "lea rsi, [rbp - 0xd0]",        // RetRegs, saves follow
        "lea rdx, [rbp + 16]",          // the caller's stack arguments
        "mov rcx, rsp",                 // scratch
        "call {inner}",                 // -> rax = values to push on the x87 stack
        "test rax, rax",
        "jz 4f",
        "cmp rax, 1",
        "je 5f",
        "fld tbyte ptr [rbp - 0xd0 + {st1}]", // imaginary part first: it ends up in st1
        "5:",
        "fld tbyte ptr [rbp - 0xd0 + {st0}]",
        "4:",
        "mov rax, [rbp - 0xd0 + {rax}]",
        "mov rdx, [rbp - 0xd0 + {rdx}]",
        "movq xmm0, [rbp - 0xd0 + {xmm0}]",
        "movq xmm1, [rbp - 0xd0 + {xmm1}]",
        "leave",
        ".cfi_def_cfa rsp, 8",
        "ret",
    ],
    rax = const offset_of!(RetRegs, rax),
    rdx = const offset_of!(RetRegs, rdx),
    xmm0 = const offset_of!(RetRegs, xmm0),
    xmm1 = const offset_of!(RetRegs, xmm1),
    st0 = const offset_of!(RetRegs, st0),
    st1 = const offset_of!(RetRegs, st1),
    inner = sym closure_inner_sysv64,
);

// ---- Win64 closure entry ------------------------------------------------------------------
//
// In: r10 = &ClosureHeader, rcx rdx r8 r9 / xmm0-3, home area at [rsp + 8].
// The register arguments are spilled to the home area, which makes all slots contiguous
// from [rbp + 16]. Frame below rbp: [rbp - 0x80] RetRegs (0x60), [rbp - 0x20] xmm0..3.
// The inner function is `extern "win64"`, so it preserves rsi, rdi and xmm6-15 itself.
asm_function!(
    "closure_ffi_6_closure_win64",
    [
        "mov [rsp + 0x08], rcx",
        "mov [rsp + 0x10], rdx",
        "mov [rsp + 0x18], r8",
        "mov [rsp + 0x20], r9",
        frame_prologue!(),
        "sub rsp, 0x80",
        "movq [rbp - 0x20], xmm0",
        "movq [rbp - 0x18], xmm1",
        "movq [rbp - 0x10], xmm2",
        "movq [rbp - 0x08], xmm3",
        "mov rax, [r10]",               // scratch bytes, a multiple of 16
        probe_and_reserve!("rax"),
        "mov r9, rsp",                  // scratch
        "sub rsp, 0x20",                // home area of the Win64 inner call
        "mov rcx, r10",                 // header
        "lea rdx, [rbp - 0x80]",        // RetRegs, saves follow
        "lea r8, [rbp + 16]",           // slot 0 (home area), then the stack arguments
        "call {inner}",
        "mov rax, [rbp - 0x80 + {rax}]",
        "movups xmm0, [rbp - 0x80 + {xmm0}]",
        "leave",
        ".cfi_def_cfa rsp, 8",
        "ret",
    ],
    rax = const offset_of!(RetRegs, rax),
    xmm0 = const offset_of!(RetRegs, xmm0),
    inner = sym closure_inner_win64,
);

extern "sysv64" {
    fn closure_ffi_6_closure_sysv64();
    fn closure_ffi_6_closure_win64();
}

/// The entry a closure's trampoline jumps to for this convention.
pub(crate) fn closure_entry(conv: Convention) -> *const u8 {
    match conv {
        Convention::SysV64 => closure_ffi_6_closure_sysv64 as *const u8,
        Convention::Win64 => closure_ffi_6_closure_win64 as *const u8,
    }
}

/// Bytes of a closure trampoline (see the module docs).
pub(crate) const TRAMPOLINE_SIZE: usize = 32;

/// Encodes the trampoline that loads `header` into r10 and jumps to `entry`, for code that
/// will execute at `rx`.
pub(crate) fn trampoline(
    rx: *const u8,
    header: *const ClosureHeader,
    entry: *const u8,
) -> [u8; TRAMPOLINE_SIZE] {
    let mut code = [0xCC; TRAMPOLINE_SIZE]; // int3 padding
    code[..2].copy_from_slice(&[0x49, 0xBA]); // movabs r10, imm64
    code[2..10].copy_from_slice(&(header as u64).to_le_bytes());
    let next = (rx as i64).wrapping_add(15);
    match i32::try_from((entry as i64).wrapping_sub(next)) {
        Ok(rel) => {
            code[10] = 0xE9; // jmp rel32
            code[11..15].copy_from_slice(&rel.to_le_bytes());
        }
        Err(_) => {
            code[10..12].copy_from_slice(&[0x49, 0xBB]); // movabs r11, imm64
            code[12..20].copy_from_slice(&(entry as u64).to_le_bytes());
            code[20..23].copy_from_slice(&[0x41, 0xFF, 0xE3]); // jmp r11
        }
    }
    code
}

/// System V closure entry's Rust half.
///
/// # Safety
/// Called only by `closure_ffi_6_closure_sysv64` with its frame (see [`decode_and_invoke`]).
unsafe extern "sysv64" fn closure_inner_sysv64(
    header: *const ClosureHeader,
    regs: *mut RetRegs,
    stack: *const u8,
    scratch: *mut u8,
) -> usize {
    // SAFETY: forwarded: the entry passes its own frame.
    unsafe { decode_and_invoke(header, regs, stack, scratch) }
}

/// Win64 closure entry's Rust half (`extern "win64"`, so it preserves what a Win64 callee
/// must).
///
/// # Safety
/// Called only by `closure_ffi_6_closure_win64` with its frame (see [`decode_and_invoke`]).
unsafe extern "win64" fn closure_inner_win64(
    header: *const ClosureHeader,
    regs: *mut RetRegs,
    stack: *const u8,
    scratch: *mut u8,
) {
    // SAFETY: forwarded: the entry passes its own frame.
    unsafe { decode_and_invoke(header, regs, stack, scratch) };
}

/// Builds the argument pointers by the plan, runs the callback and loads its result into
/// `regs`. Returns how many values the entry must push onto the x87 stack.
///
/// # Safety
/// `header` is a live closure's header; `regs` is followed by the register save area in the
/// plan's register-part layout; `stack` is the caller's first stack slot (the home area on
/// Win64); `scratch` has `header.scratch_bytes` writable bytes, 16-aligned.
unsafe fn decode_and_invoke(
    header: *const ClosureHeader,
    regs: *mut RetRegs,
    stack: *const u8,
    scratch: *mut u8,
) -> usize {
    // SAFETY: see the function's contract. Frame offsets come from the plan: below
    // `reg_block` they index the save area, past it the caller's stack arguments, which the
    // caller set up for this very signature.
    unsafe {
        let saves = regs.cast::<u8>().add(RET_REGS);
        let ret = invoke_closure(header, saves, stack, scratch);
        let plan = &*(*header).plan;
        load_ret(&plan.ret, &mut *regs, ret);
        match plan.ret {
            RetPlan::X87 { count } => usize::from(count),
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trampoline_encodings() {
        let header = 0x1122_3344_5566_7788usize as *const ClosureHeader;
        let near = trampoline(0x1000 as *const u8, header, 0x2000 as *const u8);
        assert_eq!(&near[..2], &[0x49, 0xBA]);
        assert_eq!(near[10], 0xE9);
        assert_eq!(
            i32::from_le_bytes(near[11..15].try_into().unwrap()),
            0x2000 - 0x100F
        );
        let far = trampoline(0x1000 as *const u8, header, 0x7000_0000_0000 as *const u8);
        assert_eq!(&far[10..12], &[0x49, 0xBB]);
        assert_eq!(&far[20..23], &[0x41, 0xFF, 0xE3]);
    }
}
