//! The 32-bit ARM executor of call plans: one call trampoline and one closure entry serve
//! both conventions of `aapcs32.rs` (the base standard and the VFP variant), because the
//! plan says everything that differs: the trampoline always loads r0..r3 and d0..d7 from
//! the frame and stores r0, r1 and d0..d3 after the call, and the closure entry always saves
//! and loads the same registers; a base-standard plan simply never names a VFP register.
//!
//! It exports the items the dynamic layer uses from the x86 executors, under the same
//! names; there is no compiled form (`Cif::compile` returns `Ok(false)` on ARM).
//!
//! - `call.rs`: the call trampoline and the marshalling by the plan;
//! - `closure.rs`: the closure trampoline (A32 or T32, the build's instruction set) and
//!   entry, decoding arguments by the plan.
//!
//! The assembly is written in unified syntax that assembles as A32 on `armv7-*` and as
//! T32 on `thumbv7*` targets (so it avoids what T32 forbids: `sp` as the destination of
//! anything but `mov`, `add sp, sp` and `sub sp, sp`). A function symbol defined in T32 code
//! has bit 0 set, and every branch to a register (`blx`, `bx lr`, `pop {.., pc}`,
//! `ldr pc`) interworks, so callers and callees of either instruction set meet. They
//! require VFP with at least d0..d7 (every `*-gnueabihf` target has VFPv3-D16).

/// Defines a global function in assembly, `asm_function!("name", [template strings,]
/// operands)`, with the ELF symbol type and size, and an EHABI entry saying that nothing
/// unwinds through it (what it calls is `extern "C"` without `-unwind`: a panic there
/// aborts).
///
/// A32 version (`armv7-*`).
#[cfg(not(closure_ffi_thumb))]
macro_rules! asm_function {
    ($name:literal, [$($body:tt)*] $(, $($operands:tt)*)?) => {
        core::arch::global_asm!(
            ".text",
            ".p2align 2",
            concat!(".globl ", $name),
            concat!(".type ", $name, ",%function"),
            concat!($name, ":"),
            ".fnstart",
            ".cantunwind",
            $($body)*
            ".fnend",
            concat!(".size ", $name, ", . - ", $name),
            $($($operands)*)?
        );
    };
}

/// Defines a global function in assembly (see the A32 version above).
///
/// T32 version (`thumbv7*`): `.thumb_func` marks the symbol as T32 code, so its address has
/// bit 0 set and the linker turns calls from A32 into `blx` (without it, LLVM's assembler
/// left the symbol even and calls switched to A32 in the middle of T32 code: SIGILL).
#[cfg(closure_ffi_thumb)]
macro_rules! asm_function {
    ($name:literal, [$($body:tt)*] $(, $($operands:tt)*)?) => {
        core::arch::global_asm!(
            ".text",
            ".p2align 2",
            concat!(".globl ", $name),
            concat!(".type ", $name, ",%function"),
            ".thumb_func",
            concat!($name, ":"),
            ".fnstart",
            ".cantunwind",
            $($body)*
            ".fnend",
            concat!(".size ", $name, ", . - ", $name),
            $($($operands)*)?
        );
    };
}

/// Reserves `$reg` bytes (a multiple of 16) below sp, touching every page on the way down
/// so that a large frame cannot jump over the guard page, then aligns sp down to 16.
/// Clobbers `$reg`, r12 and labels 2, 3.
macro_rules! probe_and_reserve {
    ($reg:literal) => {
        concat!(
            "2:\n",
            "cmp ",
            $reg,
            ", #4096\n",
            "blo 3f\n",
            "sub sp, sp, #4096\n",
            "str ",
            $reg,
            ", [sp]\n", // touch the page
            "sub ",
            $reg,
            ", ",
            $reg,
            ", #4096\n",
            "b 2b\n",
            "3:\n",
            "sub sp, sp, ",
            $reg,
            "\n",
            "mov r12, sp\n",
            "bic r12, r12, #15\n",
            "mov sp, r12",
        )
    };
}

mod call;
mod closure;

pub(crate) use call::call;
pub(crate) use closure::{
    closure_entry, scratch_bytes, trampoline, ClosureHeader, TRAMPOLINE_SIZE,
};

pub(crate) use super::aapcs32::Convention;
use crate::dynamic::plan::{CallPlan, PlanError};
use crate::dynamic::Type;

/// A compiled call stub's entry (never made on ARM; the type keeps the Cif's shape).
pub(crate) type StubEntry = unsafe extern "C" fn(*const u8, *mut u8, *const *const u8);

impl Convention {
    /// The convention of `Abi::DEFAULT`.
    pub(crate) const DEFAULT: Convention = if cfg!(target_abi = "eabihf") {
        Convention::Vfp
    } else {
        Convention::Aapcs
    };

    /// Classifies a signature into `plan` with the ARM classifier.
    pub(crate) fn classify(
        self,
        args: &[Type],
        ret: &Type,
        nfixed: Option<usize>,
        plan: &mut CallPlan,
    ) -> Result<(), PlanError> {
        plan.rebuild(
            |args, ret, nfixed, plan| {
                super::aapcs32::classify_signature(self, args, ret, nfixed, plan)
            },
            args,
            ret,
            nfixed,
        )
    }
}

/// The result registers: stored by the call trampoline after the call, loaded by the
/// closure entry before it returns.
///
/// ```text
///  0x00 r0   0x04 r1   0x08 d0   0x10 d1   0x18 d2   0x20 d3
/// ```
///
/// (s0 and s1 are the low and high halves of d0, so a `float` result is the first 4 bytes
/// of `d[0]`.)
#[repr(C, align(8))]
#[derive(Default)]
pub(crate) struct RetRegs {
    r: [[u8; 4]; 2],
    d: [[u8; 8]; 4],
}

const RET_REGS: usize = core::mem::size_of::<RetRegs>();
const _: () = assert!(RET_REGS == 40 && RET_REGS % 8 == 0);
const RET_R0: usize = core::mem::offset_of!(RetRegs, r);
const RET_D0: usize = core::mem::offset_of!(RetRegs, d);
const _: () = assert!(RET_R0 == 0 && RET_D0 == 8);

impl crate::arch::marshal::RetBlock for RetRegs {
    /// The bytes of `reg` (r0, r1, d0..d3; `Vec0` also holds s0 and s1).
    fn reg(&mut self, reg: crate::dynamic::plan::RetReg, _len: u8) -> &mut [u8] {
        use crate::dynamic::plan::RetReg;
        match reg {
            RetReg::Int0 => &mut self.r[0],
            RetReg::Int1 => &mut self.r[1],
            RetReg::Vec0 => &mut self.d[0],
            RetReg::Vec1 => &mut self.d[1],
            RetReg::Vec2 => &mut self.d[2],
            RetReg::Vec3 => &mut self.d[3],
        }
    }
}
