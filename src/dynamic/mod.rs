//! The dynamic layer: calls and closures for signatures known only at run time (libffi's
//! job, in Rust).
//!
//! - [`Type`] describes a C type and lays it out by the target's rules.
//! - [`Cif`] is a signature for an [`Abi`]. Preparing it classifies every argument and the
//!   return value once, into a [`CallPlan`](plan::CallPlan).
//! - [`Cif::call_raw`] (unchecked, libffi's `ffi_call`) and [`Cif::call`] (argument count
//!   and types checked) call a function through the plan.
//! - [`Closure`] is executable code with a Cif's signature that calls a Rust closure;
//!   [`RawClosure`] calls a C-style `(cif, ret, args, user_data)` callback.
//! - The typed layer derives a Cif from a Rust function-pointer type ([`FnSig`]) and turns
//!   Rust closures into typed function pointers ([`TypedClosure`]); [`CType`] maps Rust
//!   types to [`Type`]s (`#[derive(CType)]` with feature `proc_macros`).
//!
//! ```
//! # #[cfg(target_arch = "x86_64")] {
//! use closure_ffi::dynamic::{Abi, Cif, Closure, Type};
//!
//! let cif = Cif::new(Abi::DEFAULT, [Type::I32, Type::F64], Type::F64)?;
//! let scale = 2.0;
//! let closure = Closure::new(cif, move |args, ret| {
//!     let (a, b) = (args.get::<i32>(0).unwrap(), args.get::<f64>(1).unwrap());
//!     ret.set((a as f64 + b) * scale).unwrap();
//! })?;
//! let f: extern "C" fn(i32, f64) -> f64 = unsafe { closure.fn_ptr() };
//! assert_eq!(f(1, 0.5), 3.0);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Supported: x86_64, ABIs System V (the default on Unix) and Win64 (`extern "win64"`, gcc's
//! `ms_abi`, libffi's WIN64/EFI64/GNUW64). Types, layouts and the classifiers compile on
//! every target; the executor and closures need x86_64.

pub mod plan;
pub mod types;

#[cfg(target_arch = "x86_64")]
mod cif;
#[cfg(target_arch = "x86_64")]
mod closure;
#[cfg(target_arch = "x86_64")]
mod typed;

#[cfg(target_arch = "x86_64")]
pub use cif::{CallError, Cif, CifError, CodePtr, Status};
#[cfg(target_arch = "x86_64")]
pub use closure::{
    Args, Closure, ClosureCallback, ClosureError, RawCallback, RawClosure, RawState, Ret,
};
#[cfg(target_arch = "x86_64")]
pub use typed::{
    arg, Arg, CType, Complex, FnSig, LongDouble, TypedCallback, TypedCif, TypedClosure,
    TypedClosureError, TypedFn,
};
pub use types::{Type, TypeError, TypeKind};

/// `#[derive(CType)]` for `#[repr(C)]` structs (feature `proc_macros`).
#[cfg(all(feature = "proc_macros", target_arch = "x86_64"))]
pub use closure_ffi_macros::CType;

/// A calling convention of the dynamic layer.
///
/// libffi's names are associated constants ([`Abi::UNIX64`], [`Abi::WIN64`],
/// [`Abi::EFI64`], [`Abi::GNUW64`]); [`Abi::from_raw`] and [`Abi::to_raw`] convert libffi's
/// `ffi_abi` numbers for x86_64 Unix builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Abi {
    /// The System V AMD64 ABI (`extern "sysv64"`, the C ABI of x86_64 Unix).
    SysV64,
    /// The Microsoft x64 ABI (`extern "win64"`, gcc's `__attribute__((ms_abi))`).
    Win64,
}

impl Abi {
    /// The C ABI of the target (`extern "C"`).
    pub const DEFAULT: Abi = if cfg!(windows) {
        Abi::Win64
    } else {
        Abi::SysV64
    };
    /// libffi's `FFI_UNIX64`.
    pub const UNIX64: Abi = Abi::SysV64;
    /// libffi's `FFI_WIN64`.
    pub const WIN64: Abi = Abi::Win64;
    /// libffi's `FFI_EFI64` (an alias of WIN64).
    pub const EFI64: Abi = Abi::Win64;
    /// libffi's `FFI_GNUW64`: Win64 as gcc implements it, which is what [`Abi::Win64`]
    /// follows (`long double` is the 16-byte x87 type, passed and returned by reference).
    pub const GNUW64: Abi = Abi::Win64;

    /// The ABI for a libffi `ffi_abi` number of an x86_64 Unix build (UNIX64 = 2, WIN64 =
    /// EFI64 = 3, GNUW64 = 4).
    ///
    /// # Errors
    /// [`CifError::BadAbi`] for any other number (libffi's `FFI_BAD_ABI`).
    #[cfg(target_arch = "x86_64")]
    pub fn from_raw(raw: u32) -> Result<Abi, CifError> {
        match raw {
            2 => Ok(Abi::SysV64),
            3 | 4 => Ok(Abi::Win64),
            _ => Err(CifError::BadAbi(raw)),
        }
    }

    /// libffi's `ffi_abi` number of this ABI on x86_64 Unix.
    pub fn to_raw(self) -> u32 {
        match self {
            Abi::SysV64 => 2,
            Abi::Win64 => 3,
        }
    }

    #[cfg(target_arch = "x86_64")]
    pub(crate) fn convention(self) -> crate::arch::x86::dyncall::Convention {
        use crate::arch::x86::dyncall::Convention;
        match self {
            Abi::SysV64 => Convention::SysV64,
            Abi::Win64 => Convention::Win64,
        }
    }
}
