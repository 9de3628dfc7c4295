//! Calls: `call_<abi>(ctx)` reserves `ctx.frame_size` bytes of stack (probing each page,
//! so a frame larger than a page cannot jump over the guard page), has [`marshal`] fill the
//! frame by the plan, loads the argument registers from the frame's register part, points
//! rsp at the stack arguments and calls. It stores every return register into `ctx.ret`
//! (popping the x87 stack when the plan says the callee pushed onto it), and Rust copies
//! what the plan names into the caller's buffer. System V frames that fit the registers and
//! eight stack slots skip the assembly: see [`fast`].

use core::ffi::c_void;
use core::mem::offset_of;

use super::{Convention, RetRegs};
use crate::arch::marshal::{call_by_plan, marshal_call};
use crate::dynamic::plan::{CallPlan, RetPlan};

/// What a call trampoline reads and writes.
pub(crate) type CallCtx = crate::arch::marshal::CallCtx<RetRegs>;

const CTX_FUN: usize = offset_of!(CallCtx, fun);
const CTX_FRAME: usize = offset_of!(CallCtx, frame_size);
const CTX_X87: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, x87_count);
const CTX_RAX: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, rax);
const CTX_RDX: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, rdx);
const CTX_XMM0: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, xmm0);
const CTX_XMM1: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, xmm1);
const CTX_ST0: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, st0);
const CTX_ST1: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, st1);

/// The start shared by the call trampolines. In: rdi = &mut CallCtx. Saves rbx and r12
/// (r12 only keeps rsp 16-aligned), keeps the context in rbx (callee-saved in both ABIs),
/// reserves the plan's frame and has `marshal(ctx, frame)` fill it. Out: rsp = frame.
macro_rules! call_head {
    () => {
        concat!(
            frame_prologue!(),
            "\n",
            "push rbx\n",
            ".cfi_offset rbx, -24\n",
            "push r12\n",
            "mov rbx, rdi\n",
            "mov rcx, [rbx + {frame}]\n",
            probe_and_reserve!("rcx"),
            "\n",
            "mov rdi, rbx\n",
            "mov rsi, rsp\n",
            "call {marshal}",
        )
    };
}

/// The end shared by the call trampolines: drop the frame, restore r12, rbx, rbp, return.
macro_rules! call_tail {
    () => {
        concat!(
            "lea rsp, [rbp - 16]\n",
            "pop r12\n",
            "pop rbx\n",
            "pop rbp\n",
            ".cfi_def_cfa rsp, 8\n",
            "ret",
        )
    };
}

// ---- System V call ------------------------------------------------------------------------
//
// In: rdi = &mut CallCtx. Out: ctx.ret filled. Clobbers what a System V call clobbers.
asm_function!(
    "closure_ffi_6_call_sysv64",
    [
        call_head!(),
        "movq xmm0, [rsp + 0x30]",      // the eight SSE eightbytes
        "movq xmm1, [rsp + 0x38]",
        "movq xmm2, [rsp + 0x40]",
        "movq xmm3, [rsp + 0x48]",
        "movq xmm4, [rsp + 0x50]",
        "movq xmm5, [rsp + 0x58]",
        "movq xmm6, [rsp + 0x60]",
        "movq xmm7, [rsp + 0x68]",
        "mov rdi, [rsp + 0x00]",        // the six integer registers
        "mov rsi, [rsp + 0x08]",
        "mov rdx, [rsp + 0x10]",
        "mov rcx, [rsp + 0x18]",
        "mov r8, [rsp + 0x20]",
        "mov r9, [rsp + 0x28]",
        "add rsp, 0x70",                // rsp = stack arguments, still 16-aligned
        "mov eax, 8",                   // al: upper bound of vector registers (variadic callees)
        "call qword ptr [rbx + {fun}]",
        "mov [rbx + {rax}], rax",
        "mov [rbx + {rdx}], rdx",
        "movups [rbx + {xmm0}], xmm0",
        "movups [rbx + {xmm1}], xmm1",
        "mov rcx, [rbx + {x87}]",       // values the callee left on the x87 stack: 0, 1 or 2
        "test rcx, rcx",
        "jz 4f",
        "fstp tbyte ptr [rbx + {st0}]",
        "cmp rcx, 1",
        "je 4f",
        "fstp tbyte ptr [rbx + {st1}]",
        "4:",
        call_tail!(),
    ],
    frame = const CTX_FRAME,
    fun = const CTX_FUN,
    rax = const CTX_RAX,
    rdx = const CTX_RDX,
    xmm0 = const CTX_XMM0,
    xmm1 = const CTX_XMM1,
    x87 = const CTX_X87,
    st0 = const CTX_ST0,
    st1 = const CTX_ST1,
    marshal = sym marshal,
);

// ---- Win64 call ---------------------------------------------------------------------------
//
// In: rdi = &mut CallCtx (called with the System V convention). Out: ctx.ret filled. The
// Win64 callee preserves more than System V requires (rsi, rdi, xmm6-15), so nothing extra
// is saved.
asm_function!(
    "closure_ffi_6_call_win64",
    [
        call_head!(),
        "movq xmm0, [rsp + 0x00]",      // the four XMM eightbytes
        "movq xmm1, [rsp + 0x08]",
        "movq xmm2, [rsp + 0x10]",
        "movq xmm3, [rsp + 0x18]",
        "mov rcx, [rsp + 0x20]",        // slots 0..3
        "mov rdx, [rsp + 0x28]",
        "mov r8, [rsp + 0x30]",
        "mov r9, [rsp + 0x38]",
        "add rsp, 0x20",                // rsp = home area (slot 0), 16-aligned
        "call qword ptr [rbx + {fun}]",
        "mov [rbx + {rax}], rax",
        "movups [rbx + {xmm0}], xmm0",
        call_tail!(),
    ],
    frame = const CTX_FRAME,
    fun = const CTX_FUN,
    rax = const CTX_RAX,
    xmm0 = const CTX_XMM0,
    marshal = sym marshal,
);

extern "sysv64" {
    // `ctx` is a `*mut CallCtx` (declared untyped: the plan inside is not FFI-safe, and the
    // assembly reads only the fields named by the offsets above).
    fn closure_ffi_6_call_sysv64(ctx: *mut c_void);
    fn closure_ffi_6_call_win64(ctx: *mut c_void);
}

/// [`marshal_call`] in the System V convention, which the call trampolines use on every host
/// (on Windows `extern "C"` is Win64).
///
/// # Safety
/// As [`marshal_call`].
unsafe extern "sysv64" fn marshal(ctx: *const CallCtx, frame: *mut u8) {
    // SAFETY: the same contract.
    unsafe { marshal_call(ctx, frame) }
}

/// Calls `fun` by the plan: libffi's `ffi_call`.
///
/// # Safety
/// `fun` must have the signature the plan was made from, in `conv`; `avalue` must hold one
/// valid pointer per argument, each to a value of the argument's type; `rvalue` must be null
/// or point to a writable buffer of at least the return type's size (and at least 8 bytes
/// for integer returns, which are widened).
#[inline]
pub(crate) unsafe fn call(
    conv: Convention,
    plan: &CallPlan,
    fun: *const u8,
    rvalue: *mut u8,
    avalue: *const *const u8,
) {
    // The fast path calls through an `extern "C"` variadic fn pointer, which is System V
    // only off Windows; on Windows every plan takes the assembly trampolines.
    #[cfg(not(windows))]
    if conv == Convention::SysV64 && plan.stack_size <= 8 * FAST_STACK as u32 {
        let direct = match plan.ret {
            RetPlan::X87 { .. } => false,
            RetPlan::Indirect { .. } => !rvalue.is_null(),
            _ => true,
        };
        if direct {
            // SAFETY: forwarded contract; the plan fits the register-and-stack shape the
            // fast path passes (checked above).
            return unsafe { fast::call_sysv64(plan, fun, rvalue, avalue) };
        }
    }
    // SAFETY: forwarded contract.
    unsafe { call_generic(conv, plan, fun, rvalue, avalue) }
}

/// Stack arguments (in 8-byte slots) that the System V fast path passes.
#[cfg(not(windows))]
const FAST_STACK: usize = 8;

/// Calls through the assembly trampolines: any plan, any frame size, x87 returns.
///
/// # Safety
/// As [`call`].
#[doc(hidden)]
pub(crate) unsafe fn call_generic(
    conv: Convention,
    plan: &CallPlan,
    fun: *const u8,
    rvalue: *mut u8,
    avalue: *const *const u8,
) {
    let x87_count = match plan.ret {
        RetPlan::X87 { count } => count as usize,
        _ => 0,
    };
    let ret = RetRegs {
        x87_count,
        ..RetRegs::default()
    };
    let trampoline = |ctx| {
        // SAFETY: the convention's own trampoline, given the context `call_by_plan` built.
        unsafe {
            match conv {
                Convention::SysV64 => closure_ffi_6_call_sysv64(ctx),
                Convention::Win64 => closure_ffi_6_call_win64(ctx),
            }
        }
    };
    // SAFETY: the caller's contract.
    unsafe { call_by_plan(trampoline, plan, fun, rvalue, avalue, ret) }
}

/// The System V fast path: Rust itself loads the argument registers, by calling `fun`
/// through a C-variadic function-pointer type whose arguments are the six integer
/// registers, the eight vector registers and [`FAST_STACK`] stack slots, in that order.
///
/// Why this is exact: in a System V variadic call, integer arguments fill rdi..r9 in order,
/// `f64` arguments fill xmm0..xmm7 in order, further integers go to the stack in order, and
/// al receives the number of vector registers used (8: a valid upper bound for variadic
/// callees, ignored by others). Passing more stack slots than the callee reads is harmless:
/// the caller owns and pops them. The `f64`s carry raw bits (no arithmetic touches them).
/// The return type is chosen by the plan's register parts.
#[cfg(not(windows))]
mod fast {
    use super::*;
    use crate::arch::marshal::{extend, load_sx, load_zx};
    use crate::dynamic::plan::{MoveOp, RetReg};

    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Pair<A, B>(A, B);

    const SLOTS: usize = 14 + FAST_STACK;

    /// Calls `fun` with the frame's registers (and stack slots when the plan has some).
    ///
    /// # Safety
    /// `fun` has the plan's signature.
    #[inline(always)]
    unsafe fn invoke<R: Copy>(fun: *const u8, r: &[u64; SLOTS], stack: bool) -> R {
        let x = |i: usize| f64::from_bits(r[6 + i]);
        // SAFETY: `fun` is a System V function whose register use the plan describes; the
        // variadic type only decides how the registers are loaded (see the module docs).
        unsafe {
            let f: unsafe extern "C" fn(u64, ...) -> R = core::mem::transmute(fun);
            if stack {
                f(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    x(0),
                    x(1),
                    x(2),
                    x(3),
                    x(4),
                    x(5),
                    x(6),
                    x(7),
                    r[14],
                    r[15],
                    r[16],
                    r[17],
                    r[18],
                    r[19],
                    r[20],
                    r[21],
                )
            } else {
                f(
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    r[5],
                    x(0),
                    x(1),
                    x(2),
                    x(3),
                    x(4),
                    x(5),
                    x(6),
                    x(7),
                )
            }
        }
    }

    /// # Safety
    /// As [`call`], and the plan fits this path (no x87 return, at most
    /// [`FAST_STACK`] stack slots, a return buffer for indirect returns).
    #[inline]
    pub(super) unsafe fn call_sysv64(
        plan: &CallPlan,
        fun: *const u8,
        rvalue: *mut u8,
        avalue: *const *const u8,
    ) {
        let mut r = [0u64; SLOTS];
        let frame = r.as_mut_ptr().cast::<u8>();
        // SAFETY: each move reads within its argument (caller's contract) and writes within
        // the frame: register offsets are below 0x70, stack offsets below 0x70 + 64.
        unsafe {
            for m in plan.moves.iter() {
                let src = (*avalue.add(m.arg as usize)).add(m.src as usize);
                let dst = frame.add(m.dst as usize);
                match m.op {
                    MoveOp::ZeroExtend => dst.cast::<usize>().write_unaligned(load_zx(src, m.len)),
                    MoveOp::SignExtend => dst.cast::<isize>().write_unaligned(load_sx(src, m.len)),
                    _ => core::ptr::copy_nonoverlapping(src, dst, m.len as usize),
                }
            }
        }
        if let RetPlan::Indirect { dst } = plan.ret {
            r[dst as usize / 8] = rvalue as u64;
        }
        let stack = plan.stack_size != 0;
        // SAFETY: `fun` has the plan's signature (caller's contract). Each arm calls it
        // through the Rust return type whose registers are the ones the plan names (rax/rdx,
        // xmm0/xmm1 or one of each, in order); void and indirect returns read rax and
        // ignore it.
        let (a, b) = unsafe {
            match plan.ret {
                RetPlan::Regs { parts, count, .. } => match (count, parts[0].reg, parts[1].reg) {
                    (1, RetReg::Int0, _) | (2, RetReg::Int0, RetReg::Int1) => {
                        let Pair(a, b) = invoke::<Pair<u64, u64>>(fun, &r, stack);
                        (a, b)
                    }
                    (1, RetReg::Vec0, _) | (2, RetReg::Vec0, RetReg::Vec1) => {
                        let Pair(a, b) = invoke::<Pair<f64, f64>>(fun, &r, stack);
                        (a.to_bits(), b.to_bits())
                    }
                    (_, RetReg::Int0, _) => {
                        let Pair(a, b) = invoke::<Pair<u64, f64>>(fun, &r, stack);
                        (a, b.to_bits())
                    }
                    _ => {
                        let Pair(a, b) = invoke::<Pair<f64, u64>>(fun, &r, stack);
                        (a.to_bits(), b)
                    }
                },
                _ => (invoke::<u64>(fun, &r, stack), 0),
            }
        };
        let RetPlan::Regs {
            parts,
            count,
            widen,
        } = plan.ret
        else {
            return;
        };
        if rvalue.is_null() {
            return;
        }
        // SAFETY: `rvalue` holds the return type, 8 bytes at least for widened integers
        // (caller's contract); part offsets and lengths lie within it.
        unsafe {
            if let Some(signed) = widen {
                let v = extend(a as usize, parts[0].len, signed) as u64;
                rvalue.cast::<u64>().write_unaligned(v);
                return;
            }
            store_partial(rvalue.add(parts[0].off as usize), a, parts[0].len);
            if count == 2 {
                store_partial(rvalue.add(parts[1].off as usize), b, parts[1].len);
            }
        }
    }
}

/// Stores the low `len` (1..=8) bytes of `value`. Used by the System V fast path only.
///
/// # Safety
/// `dst..dst + len` must be writable.
#[cfg(not(windows))]
#[inline(always)]
unsafe fn store_partial(dst: *mut u8, value: u64, len: u8) {
    // SAFETY: in every arm, the caller guarantees `len` writable bytes at `dst`.
    unsafe {
        match len {
            8 => dst.cast::<u64>().write_unaligned(value),
            4 => dst.cast::<u32>().write_unaligned(value as u32),
            2 => dst.cast::<u16>().write_unaligned(value as u16),
            1 => *dst = value as u8,
            _ => {
                let bytes = value.to_le_bytes();
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, usize::from(len.min(8)));
            }
        }
    }
}
