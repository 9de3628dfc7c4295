//! Calls: `closure_ffi_6_call_arm(ctx)` reserves `ctx.frame_size` bytes of stack (probing
//! each page), has [`marshal_call`] fill the frame by the plan, loads d0..d7 and r0..r3 from the
//! frame's register part (popping them, which leaves sp at the stack arguments), calls with
//! `blx` and stores r0, r1 and d0..d3; Rust then copies what the plan names into the
//! caller's buffer.

use core::ffi::c_void;
use core::mem::offset_of;

use super::{Convention, RetRegs, RET_D0, RET_R0};
use crate::arch::marshal::{call_by_plan, marshal_call};
use crate::dynamic::plan::CallPlan;

type CallCtx = crate::arch::marshal::CallCtx<RetRegs>;

const CTX_FUN: usize = offset_of!(CallCtx, fun);
const CTX_FRAME: usize = offset_of!(CallCtx, frame_size);
const CTX_R0: usize = offset_of!(CallCtx, ret) + RET_R0;
const CTX_D0: usize = offset_of!(CallCtx, ret) + RET_D0;

// In: r0 = &mut CallCtx. Out: ctx.ret filled. Keeps the context in r4 and the entry sp in
// r5 (callee-saved in both conventions); clobbers r0..r3, r12, d0..d7 and what the callee
// may.
//
//  entry sp -> | r4 r5 r6 lr |  (pushed)
//  r5       -> (above: the caller's frame)
//              ... probe pages, reserve frame_size, align to 16 ...
//  frame    -> | s0..s15 (d0..d7) | r0..r3 | stack arguments | sret scratch |
asm_function!(
    "closure_ffi_6_call_arm",
    [
        "push {{r4, r5, r6, lr}}",     // r6 only keeps sp 8-aligned
        "mov r4, r0",                  // ctx
        "mov r5, sp",
        "ldr r0, [r4, #{frame}]",      // frame bytes, a multiple of 16
        probe_and_reserve!("r0"),      // sp = frame, 16-aligned
        "mov r0, r4",                  // marshal(ctx, frame)
        "mov r1, sp",
        "bl {marshal}",
        "vpop {{d0-d7}}",              // the register part: d0..d7 (= s0..s15) ...
        "pop {{r0, r1, r2, r3}}",      // ... then r0..r3; sp = the stack arguments
        "ldr r12, [r4, #{fun}]",
        "blx r12",                     // bit 0 of the address picks A32 or T32
        "str r0, [r4, #{r0}]",
        "str r1, [r4, #{r1}]",
        "add r12, r4, #{d0}",
        "vstmia r12, {{d0-d3}}",
        "mov sp, r5",
        "pop {{r4, r5, r6, pc}}",      // interworks: returns to A32 or T32 by lr's bit 0
    ],
    frame = const CTX_FRAME,
    fun = const CTX_FUN,
    r0 = const CTX_R0,
    r1 = const CTX_R0 + 4,
    d0 = const CTX_D0,
    marshal = sym marshal_call::<RetRegs>,
);

extern "C" {
    // `ctx` is a `*mut CallCtx` (declared untyped: the plan inside is not FFI-safe, and the
    // assembly reads only the fields named by the offsets above).
    fn closure_ffi_6_call_arm(ctx: *mut c_void);
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
    // SAFETY: the executor's own trampoline, given the context `call_by_plan` built.
    let trampoline = |ctx| unsafe { closure_ffi_6_call_arm(ctx) };
    // SAFETY: the caller's contract.
    unsafe { call_by_plan(trampoline, plan, fun, rvalue, avalue, RetRegs::default()) }
}
