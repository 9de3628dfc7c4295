//! The x86_64 executor of call plans: the call trampolines and the closure entries for
//! System V and Win64, and the Rust halves that marshal by the plan.
//!
//! Only this file runs dynamic-layer machine code; the classifiers beside it
//! (`sysv64.rs`, `win64.rs`) are plain functions over types.
//!
//! # Calls
//!
//! `call_<abi>(ctx)` reserves `ctx.frame_size` bytes of stack (probing each page, so a frame
//! larger than a page cannot jump over the guard page), has [`marshal`] fill the frame by
//! the plan, loads the argument registers from the frame's register part, points rsp at
//! the stack arguments and calls. It stores every return register into `ctx.ret` (popping
//! the x87 stack when the plan says the callee pushed onto it), and Rust copies what the
//! plan names into the caller's buffer.
//!
//! # Closures
//!
//! A closure's code is a trampoline in JIT memory:
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
//! plan, runs the callback and converts its result into return registers.

use core::ffi::c_void;
use core::mem::{offset_of, size_of};

use crate::dynamic::plan::{ArgSource, CallPlan, MoveOp, RetPlan, RetReg};

/// Registers a call returns in, stored by the call trampoline; and the registers a closure
/// returns in, loaded by the closure entry.
#[repr(C)]
#[derive(Default)]
pub(crate) struct RetRegs {
    rax: u64,
    rdx: u64,
    xmm0: [u8; 16],
    xmm1: [u8; 16],
    /// x87 st0 (10 bytes used).
    st0: [u8; 16],
    /// x87 st1 (10 bytes used).
    st1: [u8; 16],
    /// Pads to 96 bytes, the size the entries reserve.
    _pad: [u64; 2],
}

const RET_REGS: usize = size_of::<RetRegs>();
const _: () = assert!(RET_REGS == 96);

/// What a call trampoline reads and writes.
#[repr(C)]
pub(crate) struct CallCtx {
    plan: *const CallPlan,
    avalue: *const *const u8,
    fun: *const u8,
    frame_size: usize,
    rvalue: *mut u8,
    x87_count: usize,
    ret: RetRegs,
}

const CTX_FUN: usize = offset_of!(CallCtx, fun);
const CTX_FRAME: usize = offset_of!(CallCtx, frame_size);
const CTX_X87: usize = offset_of!(CallCtx, x87_count);
const CTX_RAX: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, rax);
const CTX_RDX: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, rdx);
const CTX_XMM0: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, xmm0);
const CTX_XMM1: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, xmm1);
const CTX_ST0: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, st0);
const CTX_ST1: usize = offset_of!(CallCtx, ret) + offset_of!(RetRegs, st1);

/// The start of every closure's data, read by the entry (`scratch_bytes` at offset 0) and
/// by [`decode_and_invoke`].
#[repr(C)]
pub(crate) struct ClosureHeader {
    /// Bytes of scratch the entry reserves below its save area (a multiple of 16):
    /// see [`scratch_bytes`].
    pub scratch_bytes: usize,
    /// The Cif's plan.
    pub plan: *const CallPlan,
    /// Where each argument is found (`nargs` entries, from [`CallPlan::arg_sources`]).
    pub sources: *const ArgSource,
    /// The number of arguments.
    pub nargs: usize,
    /// Runs the user's callback: `(header, ret, args)`.
    pub invoke: InvokeFn,
}

/// A closure's callback dispatcher: `(header, ret, args)`. `extern "sysv64"` because
/// compiled closure entries call it directly; a panic cannot unwind out of it (it aborts).
pub(crate) type InvokeFn = unsafe extern "sysv64" fn(*const ClosureHeader, *mut u8, *const *mut u8);

/// Offset of `invoke` in the header, used by compiled closure entries.
pub(crate) const HEADER_INVOKE: usize = offset_of!(ClosureHeader, invoke);
const _: () = assert!(HEADER_INVOKE == super::jitcall::HEADER_INVOKE as usize);

const _: () = assert!(offset_of!(ClosureHeader, scratch_bytes) == 0);

/// Scratch a closure needs: a 32-byte return buffer, the argument pointer array and the
/// area where split arguments are assembled.
pub(crate) fn scratch_bytes(nargs: usize, assembly: u32) -> usize {
    32 + (8 * nargs).next_multiple_of(16) + assembly as usize
}

/// Defines a global function in assembly, `asm_function!("name", [template strings,] operands)`,
/// with the directives debuggers and profilers need (type, CFI start and end, size).
macro_rules! asm_function {
    ($name:literal, [$($body:tt)*] $(, $($operands:tt)*)?) => {
        core::arch::global_asm!(
            ".text",
            ".p2align 4",
            concat!(".globl ", $name),
            concat!(".type ", $name, ",@function"),
            concat!($name, ":"),
            ".cfi_startproc",
            $($body)*
            ".cfi_endproc",
            concat!(".size ", $name, ", . - ", $name),
            $($($operands)*)?
        );
    };
}

/// `push rbp; mov rbp, rsp` with its CFI: the frame every function below keeps.
macro_rules! frame_prologue {
    () => {
        concat!(
            "push rbp\n",
            ".cfi_def_cfa_offset 16\n",
            ".cfi_offset rbp, -16\n",
            "mov rbp, rsp\n",
            ".cfi_def_cfa_register rbp",
        )
    };
}

/// Reserves `$reg` bytes (a multiple of 16) below rsp, touching every page on the way down
/// so that a large frame cannot jump over the guard page. Clobbers `$reg` and labels 2, 3.
macro_rules! probe_and_reserve {
    ($reg:literal) => {
        concat!(
            "2:\n",
            "cmp ",
            $reg,
            ", 4096\n",
            "jb 3f\n",
            "sub rsp, 4096\n",
            "or qword ptr [rsp], 0\n",
            "sub ",
            $reg,
            ", 4096\n",
            "jmp 2b\n",
            "3:\n",
            "sub rsp, ",
            $reg,
        )
    };
}

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
    // `ctx` is a `*mut CallCtx` (declared untyped: the plan inside is not FFI-safe, and the
    // assembly reads only the fields named by the offsets above).
    fn closure_ffi_6_call_sysv64(ctx: *mut c_void);
    fn closure_ffi_6_call_win64(ctx: *mut c_void);
    fn closure_ffi_6_closure_sysv64();
    fn closure_ffi_6_closure_win64();
}

/// Which trampoline pair executes a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Convention {
    SysV64,
    Win64,
}

/// Loads `len` (1..=8) bytes zero-extended.
///
/// # Safety
/// `src..src + len` must be readable.
#[inline(always)]
unsafe fn load_zx(src: *const u8, len: u32) -> u64 {
    // SAFETY: in every arm, the caller guarantees `len` readable bytes at `src`.
    unsafe {
        match len {
            8 => src.cast::<u64>().read_unaligned(),
            4 => src.cast::<u32>().read_unaligned() as u64,
            1 => *src as u64,
            2 => src.cast::<u16>().read_unaligned() as u64,
            _ => {
                let mut bytes = [0u8; 8];
                core::ptr::copy_nonoverlapping(src, bytes.as_mut_ptr(), len.min(8) as usize);
                u64::from_le_bytes(bytes)
            }
        }
    }
}

/// Fills a call frame by the plan. Called by the call trampolines.
///
/// # Safety
/// `ctx` is the trampoline's context: its plan, argument values and return buffer are those
/// `call` checked; `frame` has `plan.frame_size` writable bytes.
unsafe extern "sysv64" fn marshal(ctx: *const CallCtx, frame: *mut u8) {
    // SAFETY: see the function's contract; every offset below comes from the plan, which
    // sized the frame to hold it, and every read stays within an argument's declared size.
    unsafe {
        let ctx = &*ctx;
        let plan = &*ctx.plan;
        for m in plan.moves.iter() {
            let src = (*ctx.avalue.add(m.arg as usize)).add(m.src as usize);
            let dst = frame.add(m.dst as usize);
            match m.op {
                MoveOp::ZeroExtend => dst.cast::<u64>().write_unaligned(load_zx(src, m.len)),
                MoveOp::SignExtend => dst.cast::<i64>().write_unaligned(load_sx(src, m.len)),
                MoveOp::Copy => core::ptr::copy_nonoverlapping(src, dst, m.len as usize),
                MoveOp::Reference { copy } => {
                    let copy = frame.add(copy as usize);
                    core::ptr::copy_nonoverlapping(src, copy, m.len as usize);
                    dst.cast::<*mut u8>().write_unaligned(copy);
                }
            }
        }
        if let RetPlan::Indirect { dst } = plan.ret {
            let buf = if ctx.rvalue.is_null() {
                frame.add(plan.ret_scratch as usize)
            } else {
                ctx.rvalue
            };
            frame
                .add(dst as usize)
                .cast::<*mut u8>()
                .write_unaligned(buf);
        }
    }
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
    let mut ctx = CallCtx {
        plan,
        avalue,
        fun,
        frame_size: plan.frame_size as usize,
        rvalue,
        x87_count,
        ret: RetRegs::default(),
    };
    // SAFETY: the trampolines follow the plan, which matches `fun`'s signature by the
    // caller's contract; `ctx` lives across the call.
    unsafe {
        match conv {
            Convention::SysV64 => closure_ffi_6_call_sysv64((&mut ctx as *mut CallCtx).cast()),
            Convention::Win64 => closure_ffi_6_call_win64((&mut ctx as *mut CallCtx).cast()),
        }
    }
    if rvalue.is_null() {
        return;
    }
    // SAFETY: `rvalue` is large enough for the return type (caller's contract), and the
    // plan's parts lie within it.
    unsafe { store_ret(&plan.ret, &ctx.ret, rvalue) }
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
    /// As [`call`](super::call), and the plan fits this path (no x87 return, at most
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
                    MoveOp::ZeroExtend => dst.cast::<u64>().write_unaligned(load_zx(src, m.len)),
                    MoveOp::SignExtend => dst.cast::<i64>().write_unaligned(load_sx(src, m.len)),
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
                let v = extend(a, parts[0].len, signed);
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

/// Loads `len` (1, 2 or 4) bytes sign-extended.
///
/// # Safety
/// `src..src + len` must be readable.
#[inline(always)]
unsafe fn load_sx(src: *const u8, len: u32) -> i64 {
    // SAFETY: in every arm, the caller guarantees `len` readable bytes at `src`.
    unsafe {
        match len {
            1 => *src.cast::<i8>() as i64,
            2 => src.cast::<i16>().read_unaligned() as i64,
            4 => src.cast::<i32>().read_unaligned() as i64,
            _ => load_zx(src, len) as i64,
        }
    }
}

/// Stores the low `len` (1..=8) bytes of `value`.
///
/// # Safety
/// `dst..dst + len` must be writable.
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

/// Copies the returned registers into the caller's buffer, widening small integers.
///
/// # Safety
/// `rvalue` must be writable for the return type's size (8 bytes for widened integers).
unsafe fn store_ret(ret: &RetPlan, regs: &RetRegs, rvalue: *mut u8) {
    // SAFETY: the caller guarantees the buffer; part offsets and lengths come from the plan.
    unsafe {
        match *ret {
            RetPlan::Void | RetPlan::Indirect { .. } => {}
            RetPlan::Regs {
                parts,
                widen: Some(signed),
                ..
            } => {
                let value = extend(regs.rax, parts[0].len, signed);
                rvalue.cast::<u64>().write_unaligned(value);
            }
            RetPlan::Regs {
                parts,
                count,
                widen: None,
            } => {
                for part in &parts[..count as usize] {
                    let src = reg_bytes(regs, part.reg);
                    let len = part.len as usize;
                    core::ptr::copy_nonoverlapping(src, rvalue.add(part.off as usize), len);
                }
            }
            RetPlan::X87 { count } => {
                // fstp stores 10 bytes; the rest of each 16-byte slot is padding.
                core::ptr::copy_nonoverlapping(regs.st0.as_ptr(), rvalue, 10);
                if count == 2 {
                    core::ptr::copy_nonoverlapping(regs.st1.as_ptr(), rvalue.add(16), 10);
                }
            }
        }
    }
}

fn reg_bytes(regs: &RetRegs, reg: RetReg) -> *const u8 {
    match reg {
        RetReg::Int0 => (&regs.rax as *const u64).cast(),
        RetReg::Int1 => (&regs.rdx as *const u64).cast(),
        RetReg::Vec0 => regs.xmm0.as_ptr(),
        RetReg::Vec1 => regs.xmm1.as_ptr(),
    }
}

fn reg_bytes_mut(regs: &mut RetRegs, reg: RetReg) -> *mut u8 {
    match reg {
        RetReg::Int0 => (&mut regs.rax as *mut u64).cast(),
        RetReg::Int1 => (&mut regs.rdx as *mut u64).cast(),
        RetReg::Vec0 => regs.xmm0.as_mut_ptr(),
        RetReg::Vec1 => regs.xmm1.as_mut_ptr(),
    }
}

/// The low `len` bytes of `value`, sign- or zero-extended to 64 bits.
fn extend(value: u64, len: u8, signed: bool) -> u64 {
    let shift = 64 - 8 * u32::from(len.clamp(1, 8));
    if signed {
        (((value << shift) as i64) >> shift) as u64
    } else {
        (value << shift) >> shift
    }
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
        let plan = &*(*header).plan;
        let saves = regs.cast::<u8>().add(RET_REGS);
        let locate = |dst: u32| -> *mut u8 {
            if dst < plan.reg_block {
                saves.add(dst as usize)
            } else {
                stack.add((dst - plan.reg_block) as usize).cast_mut()
            }
        };
        let ret_buf = scratch;
        core::ptr::write_bytes(ret_buf, 0, 32);
        let nargs = (*header).nargs;
        let sources = core::slice::from_raw_parts((*header).sources, nargs);
        let ptrs = scratch.add(32).cast::<*mut u8>();
        let assembly = scratch.add(32 + (8 * nargs).next_multiple_of(16));
        for (i, &source) in sources.iter().enumerate() {
            let ptr = match source {
                ArgSource::Direct(dst) => locate(dst),
                ArgSource::Reference(dst) => locate(dst).cast::<*mut u8>().read_unaligned(),
                ArgSource::Assembled { at, start, end } => {
                    let temp = assembly.add(at as usize);
                    for m in &plan.moves[start as usize..end as usize] {
                        core::ptr::copy_nonoverlapping(
                            locate(m.dst),
                            temp.add(m.src as usize),
                            m.len as usize,
                        );
                    }
                    temp
                }
            };
            ptrs.add(i).write(ptr);
        }
        let ret = match plan.ret {
            RetPlan::Indirect { dst } => locate(dst).cast::<*mut u8>().read_unaligned(),
            _ => ret_buf,
        };
        ((*header).invoke)(header, ret, ptrs);
        let regs = &mut *regs;
        match plan.ret {
            RetPlan::Void => 0,
            RetPlan::Indirect { .. } => {
                regs.rax = ret as u64;
                0
            }
            RetPlan::Regs {
                parts,
                widen: Some(signed),
                ..
            } => {
                regs.rax = extend(load_zx(ret, u32::from(parts[0].len)), parts[0].len, signed);
                0
            }
            RetPlan::Regs {
                parts,
                count,
                widen: None,
            } => {
                for part in &parts[..count as usize] {
                    let dst = reg_bytes_mut(regs, part.reg);
                    core::ptr::copy_nonoverlapping(
                        ret.add(part.off as usize),
                        dst,
                        part.len as usize,
                    );
                }
                0
            }
            RetPlan::X87 { count } => {
                core::ptr::copy_nonoverlapping(ret, regs.st0.as_mut_ptr(), 16);
                if count == 2 {
                    core::ptr::copy_nonoverlapping(ret.add(16), regs.st1.as_mut_ptr(), 16);
                }
                count as usize
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension() {
        assert_eq!(extend(0xFFFF_FF80, 1, true), u64::MAX - 127);
        assert_eq!(extend(0xFFFF_FF80, 1, false), 0x80);
        assert_eq!(extend(0x1234_8000, 2, true), 0xFFFF_FFFF_FFFF_8000);
        assert_eq!(extend(u64::MAX, 8, false), u64::MAX);
    }

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

/// A compiled call stub's entry: `(fun, rvalue, avalue)`.
pub(crate) type StubEntry = unsafe extern "sysv64" fn(*const u8, *mut u8, *const *const u8);

/// A Cif's compiled code in JIT memory (see [`super::jitcall`]): a call stub and a closure
/// entry, each present when the plan's shape is covered. Released on drop.
#[cfg(feature = "global_jit_alloc")]
#[derive(Debug)]
pub(crate) struct Compiled {
    call: Option<*const u8>,
    closure: Option<*const u8>,
}

// SAFETY: the code is immutable; any thread may run or release it.
#[cfg(feature = "global_jit_alloc")]
unsafe impl Send for Compiled {}
// SAFETY: as above.
#[cfg(feature = "global_jit_alloc")]
unsafe impl Sync for Compiled {}

#[cfg(feature = "global_jit_alloc")]
impl Compiled {
    /// Compiles the plan's call stub and closure entry into the global JIT allocator.
    /// `Ok(None)` if neither shape is covered (or the convention is not System V).
    pub(crate) fn compile(
        conv: Convention,
        plan: &CallPlan,
        nargs: usize,
    ) -> Result<Option<Self>, crate::jit_alloc::JitAllocError> {
        if conv != Convention::SysV64 || cfg!(windows) {
            return Ok(None);
        }
        let mut compiled = Self {
            call: None,
            closure: None,
        };
        if let Some(code) = super::jitcall::emit_sysv64(plan) {
            compiled.call = Some(install(&code)?);
        }
        if let Some(code) = super::jitcall::emit_closure_sysv64(plan, nargs) {
            compiled.closure = Some(install(&code)?);
        }
        Ok((compiled.call.is_some() || compiled.closure.is_some()).then_some(compiled))
    }

    /// The call stub as a function, valid while `self` lives. Calling it has the contract
    /// of [`call`], for the plan it was compiled from.
    pub(crate) fn call_entry(&self) -> Option<StubEntry> {
        // SAFETY: the stub is a System V function of this signature (module docs of
        // `jitcall`).
        self.call
            .map(|rx| unsafe { core::mem::transmute::<*const u8, StubEntry>(rx) })
    }

    /// The compiled closure entry, valid while `self` lives.
    pub(crate) fn closure_entry(&self) -> Option<*const u8> {
        self.closure
    }
}

/// Copies `code` into fresh JIT memory: write, make executable, flush.
#[cfg(feature = "global_jit_alloc")]
fn install(code: &[u8]) -> Result<*const u8, crate::jit_alloc::JitAllocError> {
    use crate::jit_alloc::{GlobalJitAlloc, JitAlloc, ProtectJitAccess};
    let (rx, rw) = GlobalJitAlloc.alloc(code.len())?;
    // SAFETY: `rw` is the writable view of `code.len()` fresh bytes.
    unsafe {
        GlobalJitAlloc.protect_jit_memory(rx, code.len(), ProtectJitAccess::ReadWrite);
        core::ptr::copy_nonoverlapping(code.as_ptr(), rw, code.len());
        GlobalJitAlloc.protect_jit_memory(rx, code.len(), ProtectJitAccess::ReadExecute);
        GlobalJitAlloc.flush_instruction_cache(rx, code.len());
    }
    Ok(rx)
}

#[cfg(feature = "global_jit_alloc")]
impl Drop for Compiled {
    fn drop(&mut self) {
        use crate::jit_alloc::{GlobalJitAlloc, JitAlloc};
        for rx in [self.call, self.closure].into_iter().flatten() {
            // SAFETY: `rx` came from the global allocator; the code is only reachable
            // through this value (Cifs and closures hold it by Arc), which nothing uses any
            // more.
            let _ = unsafe { GlobalJitAlloc.release(rx) };
        }
    }
}
