//! Calls: `closure_ffi_6_call_i386(ctx)` reserves `ctx.frame_size` bytes of stack (probing
//! each page), has [`marshal_call`] fill the frame by the plan, loads eax, edx and ecx from the
//! frame's register part, points esp at the stack arguments and calls. Whatever the callee
//! pops (`ret N`), esp is restored from ebp afterwards, so one trampoline serves every
//! convention. It stores eax and edx, and when the plan says the callee left a value on the
//! x87 stack, stores st(0) as `float`, `double` and `long double` (three exact roundings of
//! the same value) and pops it; Rust then copies what the plan names into the caller's
//! buffer.

use core::ffi::c_void;
use core::mem::offset_of;

use super::{Convention, RetRegs, FP_F32, FP_F64, FP_NONE, FP_X87};
use crate::arch::marshal::{call_by_plan, marshal_call};
use crate::dynamic::plan::{CallPlan, RetPlan, RetReg};

type CallCtx = crate::arch::marshal::CallCtx<RetRegs>;

const CTX_FUN: usize = offset_of!(CallCtx, fun);
const CTX_FRAME: usize = offset_of!(CallCtx, frame_size);
const CTX_EAX: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, eax);
const CTX_EDX: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, edx);
const CTX_FP: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, fp);
const CTX_F32: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, f32);
const CTX_F64: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, f64);
const CTX_X87: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, x87);

// In: [esp + 4] = &mut CallCtx (cdecl). Out: ctx.ret filled. Keeps the context in ebx,
// which every i386 convention preserves; clobbers eax, ecx, edx and what the callee may.
asm_function!(
    "closure_ffi_6_call_i386",
    [
        "push ebp",
        ".cfi_def_cfa_offset 8",
        ".cfi_offset ebp, -8",
        "mov ebp, esp",
        ".cfi_def_cfa_register ebp",
        "push ebx",
        ".cfi_offset ebx, -12",
        "mov ebx, [ebp + 8]",           // ctx
        "mov ecx, [ebx + {frame}]",     // frame bytes, a multiple of 16
        probe_and_reserve32!("ecx"),
        "and esp, -16",                 // esp = frame, 16-aligned
        "mov eax, esp",
        "sub esp, 8",                   // marshal(ctx, frame), called 16-aligned
        "push eax",
        "push ebx",
        "call {marshal}",
        "add esp, 16",
        "mov eax, [esp + 0]",           // the register part: eax, edx, ecx
        "mov edx, [esp + 4]",
        "mov ecx, [esp + 8]",
        "add esp, 16",                  // esp = stack arguments, 16-aligned
        "call dword ptr [ebx + {fun}]", // may pop some of them (ret N)
        "mov [ebx + {eax}], eax",
        "mov [ebx + {edx}], edx",
        "cmp dword ptr [ebx + {fp}], 0",// did the callee push onto the x87 stack?
        "je 4f",
        "fst dword ptr [ebx + {f32}]",
        "fst qword ptr [ebx + {f64}]",
        "fstp tbyte ptr [ebx + {x87}]", // and pop it: the x87 stack is empty again
        "4:",
        "lea esp, [ebp - 4]",           // whatever the callee popped
        "pop ebx",
        "pop ebp",
        ".cfi_def_cfa esp, 4",
        "ret",
    ],
    frame = const CTX_FRAME,
    fun = const CTX_FUN,
    eax = const CTX_EAX,
    edx = const CTX_EDX,
    fp = const CTX_FP,
    f32 = const CTX_F32,
    f64 = const CTX_F64,
    x87 = const CTX_X87,
    marshal = sym marshal_call::<RetRegs>,
);

extern "C" {
    // `ctx` is a `*mut CallCtx` (declared untyped: the plan inside is not FFI-safe, and the
    // assembly reads only the fields named by the offsets above).
    fn closure_ffi_6_call_i386(ctx: *mut c_void);
}

/// What the callee leaves on the x87 stack under `ret`.
pub(super) fn fp_kind(ret: &RetPlan) -> u32 {
    match *ret {
        RetPlan::Regs { parts, .. } if parts[0].reg == RetReg::Vec0 => {
            if parts[0].len == 4 {
                FP_F32
            } else {
                FP_F64
            }
        }
        RetPlan::X87 { .. } => FP_X87,
        _ => FP_NONE,
    }
}

/// Calls `fun` by the plan: libffi's `ffi_call`.
///
/// # Safety
/// `fun` must have the signature the plan was made from, in the convention the plan was
/// made for; `avalue` must hold one valid pointer per argument, each to a value of the
/// argument's type; `rvalue` must be null or point to a writable buffer of at least the
/// return type's size (and at least 4 bytes for integer returns, which are widened).
#[inline]
pub(crate) unsafe fn call(
    _conv: Convention,
    plan: &CallPlan,
    fun: *const u8,
    rvalue: *mut u8,
    avalue: *const *const u8,
) {
    let ret = RetRegs {
        fp: fp_kind(&plan.ret),
        ..RetRegs::default()
    };
    // SAFETY: the executor's own trampoline, given the context `call_by_plan` built.
    let trampoline = |ctx| unsafe { closure_ffi_6_call_i386(ctx) };
    // SAFETY: the caller's contract.
    unsafe { call_by_plan(trampoline, plan, fun, rvalue, avalue, ret) }
}
