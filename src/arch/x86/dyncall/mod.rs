//! The x86_64 executor of call plans: the call trampolines and the closure entries for
//! System V and Win64, the Rust halves that marshal by the plan, and the installation of a
//! Cif's compiled code.
//!
//! Only this module runs dynamic-layer machine code; the classifiers beside it
//! (`sysv64.rs`, `win64.rs`) and the code generator (`jitcall.rs`) are plain functions over
//! types and bytes.
//!
//! - `call.rs`: calls (assembly trampolines, the Rust fast path, marshalling);
//! - `closure.rs`: closure trampolines and entries, decoding arguments by the plan;
//! - `compiled.rs`: a Cif's compiled call stub and closure entry in JIT memory.

use core::mem::size_of;

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

mod call;
mod closure;
#[cfg(feature = "global_jit_alloc")]
mod compiled;

pub(crate) use call::call;
pub(crate) use closure::{
    closure_entry, scratch_bytes, trampoline, ClosureHeader, TRAMPOLINE_SIZE,
};
#[cfg(feature = "global_jit_alloc")]
pub(crate) use compiled::Compiled;

/// A compiled call stub's entry: `(fun, rvalue, avalue)`.
pub(crate) type StubEntry = unsafe extern "sysv64" fn(*const u8, *mut u8, *const *const u8);

/// Registers a call returns in, stored by the call trampoline; and the registers a closure
/// returns in, loaded by the closure entry.
#[repr(C)]
#[derive(Default)]
pub(crate) struct RetRegs {
    rax: [u8; 8],
    rdx: [u8; 8],
    xmm0: [u8; 16],
    xmm1: [u8; 16],
    /// x87 st0 (10 bytes used).
    st0: [u8; 16],
    /// x87 st1 (10 bytes used).
    st1: [u8; 16],
    /// For a call: how many values the callee leaves on the x87 stack (the call
    /// trampoline stores and pops that many). Unused by closures.
    x87_count: usize,
    /// Pads to 96 bytes, the size the entries reserve.
    _pad: u64,
}

impl crate::arch::marshal::RetBlock for RetRegs {
    fn reg(&mut self, reg: crate::dynamic::plan::RetReg, _len: u8) -> &mut [u8] {
        use crate::dynamic::plan::RetReg;
        match reg {
            RetReg::Int0 => &mut self.rax,
            RetReg::Int1 => &mut self.rdx,
            RetReg::Vec0 => &mut self.xmm0,
            // (The x86_64 classifiers never name Vec2 or Vec3.)
            RetReg::Vec1 | RetReg::Vec2 | RetReg::Vec3 => &mut self.xmm1,
        }
    }

    fn x87(&mut self, index: usize) -> Option<&mut [u8]> {
        match index {
            0 => Some(&mut self.st0),
            1 => Some(&mut self.st1),
            _ => None,
        }
    }
}

const RET_REGS: usize = size_of::<RetRegs>();
const _: () = assert!(RET_REGS == 96);

/// Which trampoline pair executes a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Convention {
    SysV64,
    Win64,
}

impl Convention {
    /// The convention of `Abi::DEFAULT`.
    pub(crate) const DEFAULT: Convention = if cfg!(windows) {
        Convention::Win64
    } else {
        Convention::SysV64
    };

    /// Classifies a signature into `plan` with this convention's classifier.
    pub(crate) fn classify(
        self,
        args: &[crate::dynamic::Type],
        ret: &crate::dynamic::Type,
        nfixed: Option<usize>,
        plan: &mut crate::dynamic::plan::CallPlan,
    ) -> Result<(), crate::dynamic::plan::PlanError> {
        match self {
            Convention::SysV64 => {
                plan.rebuild(super::sysv64::classify_signature, args, ret, nfixed)
            }
            Convention::Win64 => plan.rebuild(super::win64::classify_signature, args, ret, nfixed),
        }
    }
}
