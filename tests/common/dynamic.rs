//! Helpers shared by the dynamic-layer tests (`tests/dynamic_*.rs`): the C types of
//! `test-support/c/dynamic.c`, and the modes every signature runs in.

#![allow(
    dead_code,
    reason = "each test crate uses a different subset of these helpers"
)]

use closure_ffi::dynamic::{Abi, Cif, Type};
use closure_ffi_test_support::dynamic::{self as c, Suite};

/// The C types of `c/dynamic.c`.
pub mod ty {
    use closure_ffi::dynamic::Type;

    fn st<const N: usize>(members: [Type; N]) -> Type {
        Type::structure(members).expect("a valid struct")
    }

    pub fn ff() -> Type {
        st([Type::F32, Type::F32])
    }
    pub fn di() -> Type {
        st([Type::F64, Type::I32])
    }
    pub fn id() -> Type {
        st([Type::I32, Type::F64])
    }
    pub fn ccc() -> Type {
        st([Type::I8, Type::I8, Type::I8])
    }
    pub fn fff() -> Type {
        st([Type::F32, Type::F32, Type::F32])
    }
    pub fn dd() -> Type {
        st([Type::F64, Type::F64])
    }
    pub fn difb() -> Type {
        st([Type::F64, Type::I32, Type::F32, Type::U8])
    }
    pub fn big() -> Type {
        st([Type::array(Type::I64, 5).expect("a valid array")])
    }
    pub fn nest() -> Type {
        st([ff(), Type::I32])
    }
    pub fn farr() -> Type {
        st([Type::array(Type::F32, 3).expect("a valid array"), Type::I32])
    }
    pub fn uni() -> Type {
        let u = Type::union([Type::F32, Type::U32]).expect("a valid union");
        st([Type::U8, u, Type::F64])
    }
    pub fn deep() -> Type {
        st([st([st([Type::I16]), Type::F32]), Type::F64])
    }
    pub fn ll() -> Type {
        st([Type::I64, Type::I64])
    }
}

/// How a test calls and makes closures: the convention, and whether its Cifs are compiled
/// to machine code (`Cif::compile`: call stubs and compiled closure entries) or run by the
/// plan interpreter.
#[derive(Clone, Copy)]
pub struct Mode {
    pub abi: Abi,
    pub compiled: bool,
}

impl core::fmt::Debug for Mode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let how = if self.compiled {
            "compiled"
        } else {
            "interpreted"
        };
        write!(f, "{:?} {how}", self.abi)
    }
}

impl Mode {
    /// `cif`, compiled in a compiled mode (where the compiler covers its plan).
    pub fn prepare(self, cif: Cif) -> Cif {
        #[cfg(feature = "global_jit_alloc")]
        if self.compiled {
            let mut cif = cif;
            cif.compile().expect("JIT memory");
            return cif;
        }
        cif
    }
}

/// Every mode with the C functions of its convention.
pub fn suites() -> Vec<(Mode, Suite)> {
    let compiled: &[bool] = if cfg!(feature = "global_jit_alloc") {
        &[false, true]
    } else {
        &[false]
    };
    let mut all = Vec::new();
    for &compiled in compiled {
        all.push((
            Mode {
                abi: Abi::SysV64,
                compiled,
            },
            c::sysv(),
        ));
        all.push((
            Mode {
                abi: Abi::Win64,
                compiled,
            },
            c::win64(),
        ));
    }
    all
}

/// A Cif for `mode`.
pub fn cif<const N: usize>(mode: Mode, args: [Type; N], ret: Type) -> Cif {
    mode.prepare(Cif::new(mode.abi, args, ret).expect("a valid signature"))
}

/// Makes the C reference's `long double` arithmetic on this thread use the x87's 64-bit
/// mantissa. Windows starts every thread with the x87 precision control at 53 bits
/// (control word 0x27F), so `x + 0x1p-60L` in C rounds like a double there; Linux starts
/// at 64 bits (0x37F), where this changes nothing.
pub fn x87_full_precision() {
    // All exceptions masked, 64-bit precision, round to nearest.
    let cw: u16 = 0x037F;
    // SAFETY: loads the x87 control word of this thread only; the value is the Linux default
    // (no exception unmasked), and no x87 value is live across the asm.
    unsafe { core::arch::asm!("fldcw [{}]", in(reg) &cw, options(nostack, readonly)) };
}
