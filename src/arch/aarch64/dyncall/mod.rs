//! The AArch64 executor of call plans (mounted as `crate::arch::dyncall` on aarch64): one
//! call trampoline and one closure entry, both in assembly, following the plans of
//! [`aapcs64`](super::aapcs64). It exports the items the dynamic layer uses from the x86
//! executors, under the same names; there is no compiled form (`Cif::compile` returns
//! `Ok(false)` on aarch64).
//!
//! - `call.rs`: the call trampoline and the marshalling by the plan;
//! - `closure.rs`: the closure trampoline (in JIT memory) and entry, decoding arguments by
//!   the plan.

use core::mem::{offset_of, size_of};

use super::aapcs64;
use crate::dynamic::plan::{CallPlan, PlanError};
use crate::dynamic::Type;

/// Reserves `$reg` bytes (a multiple of 16) below sp, touching every page on the way down
/// so that a large frame cannot jump over the guard page. Clobbers `$reg` and labels 2, 3.
macro_rules! probe_and_reserve64 {
    ($reg:literal) => {
        concat!(
            "2:\n",
            "cmp ",
            $reg,
            ", #4096\n",
            "b.lo 3f\n",
            "sub sp, sp, #4096\n",
            "str xzr, [sp]\n", // the new page belongs to this frame
            "sub ",
            $reg,
            ", ",
            $reg,
            ", #4096\n",
            "b 2b\n",
            "3:\n",
            "sub sp, sp, ",
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

/// The conventions this executor implements: AAPCS64 only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Convention {
    /// AAPCS64 as Linux and gcc implement it.
    Aapcs64,
}

/// A compiled call stub's entry (never made on aarch64; the type keeps the Cif's shape).
pub(crate) type StubEntry = unsafe extern "C" fn(*const u8, *mut u8, *const *const u8);

impl Convention {
    /// The convention of `Abi::DEFAULT`.
    pub(crate) const DEFAULT: Convention = Convention::Aapcs64;

    /// Classifies a signature into `plan` with the AAPCS64 classifier.
    pub(crate) fn classify(
        self,
        args: &[Type],
        ret: &Type,
        nfixed: Option<usize>,
        plan: &mut CallPlan,
    ) -> Result<(), PlanError> {
        plan.rebuild(aapcs64::classify_signature, args, ret, nfixed)
    }
}

/// The return registers: what a call returned, stored by the call trampoline; and what a
/// closure returns, loaded by the closure entry.
///
/// ```text
///  0x00 x0   0x08 x1   0x10 q0   0x20 q1   0x30 q2   0x40 q3
/// ```
#[repr(C, align(16))]
#[derive(Default)]
pub(crate) struct RetRegs {
    x: [[u8; 8]; 2],
    q: [[u8; 16]; 4],
}

const RET_REGS: usize = size_of::<RetRegs>();
const RET_X0: usize = offset_of!(RetRegs, x);
const RET_Q0: usize = offset_of!(RetRegs, q);
const _: () = assert!(RET_REGS == 0x50 && RET_X0 == 0 && RET_Q0 == 0x10);

/// The register part of a plan's frame, as the trampolines load and store it
/// (`aapcs64::{X_BLOCK, X8, V_BLOCK, REG_BLOCK}`).
const REG_BLOCK: usize = aapcs64::REG_BLOCK as usize;
const _: () = assert!(
    aapcs64::X_BLOCK == 0 && aapcs64::X8 == 0x40 && aapcs64::V_BLOCK == 0x50 && REG_BLOCK == 0xd0
);

impl crate::arch::marshal::RetBlock for RetRegs {
    fn reg(&mut self, reg: crate::dynamic::plan::RetReg, _len: u8) -> &mut [u8] {
        use crate::dynamic::plan::RetReg;
        match reg {
            RetReg::Int0 => &mut self.x[0],
            RetReg::Int1 => &mut self.x[1],
            RetReg::Vec0 => &mut self.q[0],
            RetReg::Vec1 => &mut self.q[1],
            RetReg::Vec2 => &mut self.q[2],
            RetReg::Vec3 => &mut self.q[3],
        }
    }
}
