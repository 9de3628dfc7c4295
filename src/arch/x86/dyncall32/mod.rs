//! The i386 executor of call plans (mounted as `arch::x86::dyncall` on 32-bit x86, Linux and
//! Windows):
//! one call trampoline and one closure entry serve every convention of `i386.rs`, because
//! the plan says everything that differs (which of eax, edx, ecx carry arguments, the stack
//! order, how many bytes the callee pops, how the result comes back).
//!
//! It exports the items the dynamic layer uses from the x86_64 executor, under the same
//! names; there is no compiled form (`Cif::compile` returns `Ok(false)` on i386).
//!
//! - `call.rs`: the call trampoline and the marshalling by the plan;
//! - `closure.rs`: the closure trampoline and entry, decoding arguments by the plan.

use core::mem::size_of;

pub(crate) use super::i386::Convention;
use crate::dynamic::plan::{CallPlan, PlanError};
use crate::dynamic::Type;

/// Reserves `$reg` bytes (a multiple of 16) below esp, touching every page on the way down
/// so that a large frame cannot jump over the guard page. Clobbers `$reg` and labels 2, 3.
macro_rules! probe_and_reserve32 {
    ($reg:literal) => {
        concat!(
            "2:\n",
            "cmp ",
            $reg,
            ", 4096\n",
            "jb 3f\n",
            "sub esp, 4096\n",
            "or dword ptr [esp], 0\n",
            "sub ",
            $reg,
            ", 4096\n",
            "jmp 2b\n",
            "3:\n",
            "sub esp, ",
            $reg,
        )
    };
}

mod call;
mod closure;

pub(crate) use call::call;
pub(crate) use closure::{
    closure_entry, scratch_bytes, trampoline, ClosureHeader, TRAMPOLINE_SIZE,
};

/// A compiled call stub's entry (never made on i386; the type keeps the Cif's shape).
pub(crate) type StubEntry = unsafe extern "C" fn(*const u8, *mut u8, *const *const u8);

impl Convention {
    /// The convention of `Abi::DEFAULT`.
    pub(crate) const DEFAULT: Convention = Convention::SysV;

    /// Classifies a signature into `plan` with the i386 classifier.
    pub(crate) fn classify(
        self,
        args: &[Type],
        ret: &Type,
        nfixed: Option<usize>,
        plan: &mut CallPlan,
    ) -> Result<(), PlanError> {
        plan.rebuild(
            |args, ret, nfixed, plan| {
                super::i386::classify_signature(self, args, ret, nfixed, plan)
            },
            args,
            ret,
            nfixed,
        )
    }
}

/// What a call returned, stored by the call trampoline; and what a closure returns, loaded
/// by the closure entry.
///
/// ```text
///  0x00 eax   0x04 edx   0x08 fp kind   0x0c callee pop
///  0x10 st(0) as float (4)   0x18 st(0) as double (8)   0x20 st(0) as long double (10)
/// ```
#[repr(C)]
#[derive(Default)]
pub(crate) struct RetRegs {
    eax: [u8; 4],
    edx: [u8; 4],
    /// What the x87 stack holds: [`FP_NONE`], [`FP_F32`], [`FP_F64`] or [`FP_X87`]. For a
    /// call, whether the callee left a value (the trampoline then stores it three ways and
    /// pops it); for a closure, what the entry loads.
    fp: u32,
    /// Bytes the closure entry pops with its return (the plan's `callee_pop`).
    pop: u32,
    f32: [u8; 8],
    f64: [u8; 8],
    x87: [u8; 16],
}

const RET_REGS: usize = size_of::<RetRegs>();
const _: () = assert!(RET_REGS == 48);

impl crate::arch::marshal::RetBlock for RetRegs {
    /// eax, edx, or st(0) as stored as a `float` (`len` 4) or a `double`.
    fn reg(&mut self, reg: crate::dynamic::plan::RetReg, len: u8) -> &mut [u8] {
        use crate::dynamic::plan::RetReg;
        match reg {
            RetReg::Int0 => &mut self.eax,
            // (The i386 classifier never names Vec1..Vec3.)
            RetReg::Int1 | RetReg::Vec1 | RetReg::Vec2 | RetReg::Vec3 => &mut self.edx,
            RetReg::Vec0 if len == 4 => &mut self.f32,
            RetReg::Vec0 => &mut self.f64,
        }
    }

    fn x87(&mut self, index: usize) -> Option<&mut [u8]> {
        (index == 0).then_some(&mut self.x87[..])
    }
}

/// No x87 value.
const FP_NONE: u32 = 0;
/// st(0) holds a `float`.
const FP_F32: u32 = 1;
/// st(0) holds a `double`.
const FP_F64: u32 = 2;
/// st(0) holds a `long double`.
const FP_X87: u32 = 3;
