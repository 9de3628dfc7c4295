//! Calls: `closure_ffi_6_call_aapcs64(ctx)` reserves `ctx.frame_size` bytes of stack
//! (probing each page), has [`marshal_call`] fill the frame by the plan, loads x0-x7, x8 and
//! q0-q7 from the frame's register part, points sp at the stack arguments and calls. It
//! stores x0, x1 and q0-q3 (every register a result can come back in); Rust then copies
//! what the plan names into the caller's buffer.

use core::ffi::c_void;
use core::mem::offset_of;

use super::{Convention, RetRegs, REG_BLOCK, RET_Q0, RET_X0};
use crate::arch::marshal::{call_by_plan, marshal_call};
use crate::dynamic::plan::CallPlan;

type CallCtx = crate::arch::marshal::CallCtx<RetRegs>;

const CTX_FUN: usize = offset_of!(CallCtx, fun);
const CTX_FRAME: usize = offset_of!(CallCtx, frame_size);
const CTX_X0: usize = offset_of!(CallCtx, ret) + RET_X0;
const CTX_Q0: usize = offset_of!(CallCtx, ret) + RET_Q0;
// `stp q` offsets are multiples of 16 (scaled immediates).
const _: () = assert!(CTX_Q0 % 16 == 0 && CTX_X0 % 8 == 0);

// In: x0 = &mut CallCtx. Out: ctx.ret filled. Keeps the context in x19 (callee-saved) and
// the entry sp in x29; clobbers what the callee may (x0-x18, q0-q7, the upper halves of
// q8-q15, flags).
//
// Frame: [x29] saved x29, x30; [x29 + 16] saved x19; below x29: the plan's frame (register
// part, then the stack arguments, copies and the result scratch), 16-aligned.
asm_function!(
    "closure_ffi_6_call_aapcs64",
    [
        "stp x29, x30, [sp, #-32]!",
        ".cfi_def_cfa_offset 32",
        ".cfi_offset x29, -32",
        ".cfi_offset x30, -24",
        "mov x29, sp",
        ".cfi_def_cfa x29, 32",
        "str x19, [sp, #16]",
        ".cfi_offset x19, -16",
        "mov x19, x0",                  // ctx
        "ldr x9, [x19, #{frame}]",      // frame bytes, a multiple of 16
        probe_and_reserve64!("x9"),     // sp = frame, 16-aligned
        "mov x0, x19",                  // marshal(ctx, frame)
        "mov x1, sp",
        "bl {marshal}",
        "ldp x0, x1, [sp, #0]",         // the register part: x0-x7
        "ldp x2, x3, [sp, #16]",
        "ldp x4, x5, [sp, #32]",
        "ldp x6, x7, [sp, #48]",
        "ldr x8, [sp, #64]",            // the indirect result address (if any)
        "ldp q0, q1, [sp, #80]",        // q0-q7
        "ldp q2, q3, [sp, #112]",
        "ldp q4, q5, [sp, #144]",
        "ldp q6, q7, [sp, #176]",
        "add sp, sp, #{reg_block}",     // sp = the stack arguments, 16-aligned
        "ldr x16, [x19, #{fun}]",
        "blr x16",
        "stp x0, x1, [x19, #{x0}]",     // every result register
        "stp q0, q1, [x19, #{q0}]",
        "stp q2, q3, [x19, #{q0} + 32]",
        "mov sp, x29",
        "ldr x19, [sp, #16]",
        ".cfi_restore x19",
        "ldp x29, x30, [sp], #32",
        ".cfi_def_cfa sp, 0",
        ".cfi_restore x29",
        ".cfi_restore x30",
        "ret",
    ],
    frame = const CTX_FRAME,
    fun = const CTX_FUN,
    x0 = const CTX_X0,
    q0 = const CTX_Q0,
    reg_block = const REG_BLOCK,
    marshal = sym marshal_call::<RetRegs>,
);

extern "C" {
    // `ctx` is a `*mut CallCtx` (declared untyped: the plan inside is not FFI-safe, and the
    // assembly reads only the fields named by the offsets above).
    fn closure_ffi_6_call_aapcs64(ctx: *mut c_void);
}

/// Calls `fun` by the plan: libffi's `ffi_call`.
///
/// # Safety
/// `fun` must have the signature the plan was made from; `avalue` must hold one valid
/// pointer per argument, each to a value of the argument's type; `rvalue` must be null or
/// point to a writable buffer of at least the return type's size (and at least 8 bytes for
/// integer returns, which are widened).
#[inline]
pub(crate) unsafe fn call(
    _conv: Convention,
    plan: &CallPlan,
    fun: *const u8,
    rvalue: *mut u8,
    avalue: *const *const u8,
) {
    // SAFETY: the executor's own trampoline, given the context `call_by_plan` built.
    let trampoline = |ctx| unsafe { closure_ffi_6_call_aapcs64(ctx) };
    // SAFETY: the caller's contract.
    unsafe { call_by_plan(trampoline, plan, fun, rvalue, avalue, RetRegs::default()) }
}
