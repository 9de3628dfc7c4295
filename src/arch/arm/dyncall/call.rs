//! Calls: `closure_ffi_6_call_arm(ctx)` reserves `ctx.frame_size` bytes of stack (probing
//! each page), has [`marshal`] fill the frame by the plan, loads d0..d7 and r0..r3 from the
//! frame's register part (popping them, which leaves sp at the stack arguments), calls with
//! `blx` and stores r0, r1 and d0..d3; Rust then copies what the plan names into the
//! caller's buffer.

use core::ffi::c_void;
use core::mem::offset_of;

use super::{Convention, RetRegs, RET_D0, RET_R0};
use crate::arch::marshal::{extend, fill_frame};
use crate::dynamic::plan::{CallPlan, RetPlan};

/// What the call trampoline reads and writes.
#[repr(C)]
struct CallCtx {
    plan: *const CallPlan,
    avalue: *const *const u8,
    fun: *const u8,
    frame_size: usize,
    rvalue: *mut u8,
    ret: RetRegs,
}

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
    marshal = sym marshal,
);

extern "C" {
    // `ctx` is a `*mut CallCtx` (declared untyped: the plan inside is not FFI-safe, and the
    // assembly reads only the fields named by the offsets above).
    fn closure_ffi_6_call_arm(ctx: *mut c_void);
}

/// Fills a call frame by the plan. Called by the call trampoline.
///
/// # Safety
/// `ctx` is the trampoline's context: its plan, argument values and return buffer are those
/// `call` checked; `frame` has `plan.frame_size` writable bytes.
unsafe extern "C" fn marshal(ctx: *const CallCtx, frame: *mut u8) {
    // SAFETY: see the function's contract, which is `fill_frame`'s.
    unsafe {
        let ctx = &*ctx;
        fill_frame(&*ctx.plan, ctx.avalue, ctx.rvalue, frame);
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
    let mut ctx = CallCtx {
        plan,
        avalue,
        fun,
        frame_size: plan.frame_size as usize,
        rvalue,
        ret: RetRegs::default(),
    };
    // SAFETY: the trampoline follows the plan, which matches `fun`'s signature by the
    // caller's contract; `ctx` lives across the call.
    unsafe { closure_ffi_6_call_arm((&mut ctx as *mut CallCtx).cast()) };
    if rvalue.is_null() {
        return;
    }
    // SAFETY: `rvalue` is large enough for the return type (caller's contract), and the
    // plan's parts lie within it.
    unsafe { store_ret(&plan.ret, &mut ctx.ret, rvalue) }
}

/// Copies the returned registers into the caller's buffer, widening small integers.
///
/// # Safety
/// `rvalue` must be writable for the return type's size (4 bytes for widened integers).
unsafe fn store_ret(ret: &RetPlan, regs: &mut RetRegs, rvalue: *mut u8) {
    // SAFETY: the caller guarantees the buffer; part offsets and lengths come from the plan
    // (at most 8 bytes from one register, 4 from a core register).
    unsafe {
        match *ret {
            RetPlan::Void | RetPlan::Indirect { .. } | RetPlan::X87 { .. } => {}
            RetPlan::Regs {
                parts,
                widen: Some(signed),
                ..
            } => {
                let value = extend(regs.r[0] as usize, parts[0].len, signed) as u32;
                rvalue.cast::<u32>().write_unaligned(value);
            }
            RetPlan::Regs {
                parts,
                count,
                widen: None,
            } => {
                for part in &parts[..usize::from(count)] {
                    let src = regs.bytes(part.reg);
                    let len = usize::from(part.len).min(src.len());
                    core::ptr::copy_nonoverlapping(
                        src.as_ptr(),
                        rvalue.add(usize::from(part.off)),
                        len,
                    );
                }
            }
        }
    }
}
