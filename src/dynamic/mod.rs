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
//! # #[cfg(any(target_arch = "x86_64", target_arch = "x86", all(any(target_arch = "aarch64", target_arch = "arm"), target_os = "linux")))] {
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
//! Supported:
//!
//! | target | ABIs | calls | closures | [`Cif::compile`] |
//! |--------|------|-------|----------|------------------|
//! | x86_64 | System V (the Unix default), Win64 (`extern "win64"`, gcc's `ms_abi`, libffi's WIN64/EFI64/GNUW64) | yes | yes | JIT-compiled stubs |
//! | i386 (`x86`) | System V/cdecl (the default), stdcall, thiscall, fastcall, ms_cdecl, pascal, register (libffi's i386 set) | yes | yes | `Ok(false)`: the plan is interpreted |
//! | aarch64 Linux | AAPCS64 (the default; libffi's aarch64 SYSV) | yes | yes | `Ok(false)`: the plan is interpreted |
//! | 32-bit ARM Linux (`arm`, `*-gnueabihf`: A32 and T32) | the AAPCS VFP variant (the default; libffi's VFP) and base standard (`extern "aapcs"`; libffi's SYSV) | yes | yes | `Ok(false)`: the plan is interpreted |
//!
//! On i386, variadic Cifs need a caller-pops convention (System V or ms_cdecl), `__int128`
//! does not exist, and pascal and register refuse struct returns (no compiler defines
//! them); see `src/arch/x86/i386.rs` for every rule. On aarch64, `long double` is IEEE
//! binary128 (passed in q registers), variadic arguments are passed like named ones (the
//! Linux rule), and a typed signature cannot contain [`LongDouble`] (Rust passes it as a
//! 16-byte struct); see `src/arch/aarch64/aapcs64.rs`. On 32-bit ARM, `long double` is
//! `double`, `__int128` does not exist, and variadic Cifs are marshaled by the base
//! standard even for [`Abi::Vfp`] (as C compilers do); `src/arch/arm/aapcs32.rs` has every
//! rule and where it follows gcc rather than libffi. Types, layouts and the classifiers
//! compile on every target; the executors and closures need x86_64, i386, aarch64 Linux or
//! 32-bit ARM Linux.

pub mod plan;
pub mod types;

#[cfg(closure_ffi_dynamic)]
mod cif;
#[cfg(closure_ffi_dynamic)]
mod closure;
#[cfg(closure_ffi_dynamic)]
mod long_double;
#[cfg(closure_ffi_dynamic)]
mod typed;

#[cfg(closure_ffi_dynamic)]
pub use cif::{CallError, Cif, CifError, CodePtr, Status};
#[cfg(closure_ffi_dynamic)]
pub use closure::{
    Args, Closure, ClosureCallback, ClosureError, RawCallback, RawClosure, RawState, Ret,
};
#[cfg(closure_ffi_dynamic)]
pub use long_double::LongDouble;
#[cfg(closure_ffi_dynamic)]
pub use typed::{
    arg, Arg, CType, Complex, FnSig, TypedCallback, TypedCif, TypedClosure, TypedClosureError,
    TypedFn,
};
pub use types::{Type, TypeError, TypeKind};

/// `#[derive(CType)]` for `#[repr(C)]` structs (feature `proc_macros`).
#[cfg(all(feature = "proc_macros", closure_ffi_dynamic))]
pub use closure_ffi_macros::CType;

/// A calling convention of the dynamic layer.
///
/// Each target implements its own family: x86_64 [`SysV64`](Abi::SysV64) and
/// [`Win64`](Abi::Win64); aarch64 Linux [`Aapcs64`](Abi::Aapcs64); i386 (`target_arch = "x86"`) [`SysV`](Abi::SysV) (cdecl, the
/// default), [`StdCall`](Abi::StdCall), [`ThisCall`](Abi::ThisCall),
/// [`FastCall`](Abi::FastCall), [`MsCdecl`](Abi::MsCdecl), [`Pascal`](Abi::Pascal) and
/// [`Register`](Abi::Register); 32-bit ARM [`Vfp`](Abi::Vfp) (the default on
/// `*-gnueabihf`) and [`Aapcs`](Abi::Aapcs). A Cif for an ABI of another family is
/// [`CifError::BadAbi`].
///
/// libffi's names are associated constants ([`Abi::UNIX64`], [`Abi::WIN64`], ...);
/// [`Abi::from_raw`] and [`Abi::to_raw`] convert libffi's `ffi_abi` numbers of the target's
/// Unix build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Abi {
    /// The System V AMD64 ABI (`extern "sysv64"`, the C ABI of x86_64 Unix).
    SysV64,
    /// The Microsoft x64 ABI (`extern "win64"`, gcc's `__attribute__((ms_abi))`).
    Win64,
    /// i386 System V (`extern "cdecl"`, the C ABI of i386 Unix; libffi's `FFI_SYSV`): stack
    /// arguments, the caller pops them, and the callee pops a hidden struct-return pointer.
    SysV,
    /// i386 `__stdcall` (`extern "stdcall"`): the callee pops its arguments.
    StdCall,
    /// i386 `__thiscall` (`extern "thiscall"`): the first integer argument in ecx.
    ThisCall,
    /// i386 `__fastcall` (`extern "fastcall"`): the first two integer arguments in ecx, edx.
    FastCall,
    /// i386 cdecl as Microsoft defines it (gcc's `ms_abi` on i386; libffi's
    /// `FFI_MS_CDECL`): as [`SysV`](Abi::SysV), but the caller pops the hidden
    /// struct-return pointer. The C ABI of i686 Windows, where it and the other conventions
    /// but `SysV` also return small aggregates in registers as mingw-w64's gcc does
    /// (`arch::x86::i386::AggregateReturn`).
    MsCdecl,
    /// i386 Pascal: arguments pushed left to right, the callee pops them.
    Pascal,
    /// i386 Borland `register`: integer arguments in eax, edx, ecx, the rest pushed left to
    /// right, the callee pops them.
    Register,
    /// The AArch64 procedure call standard (AAPCS64, the C ABI of aarch64 Linux; libffi's
    /// aarch64 `FFI_SYSV`).
    Aapcs64,
    /// The 32-bit ARM base standard (`extern "aapcs"`, soft-float: floating-point values in
    /// core registers; libffi's arm `FFI_SYSV`).
    Aapcs,
    /// The 32-bit ARM VFP variant (hard-float: the C ABI of `*-gnueabihf`; libffi's arm
    /// `FFI_VFP`).
    Vfp,
}

/// The target's libffi `ffi_abi` numbers ([`Abi::from_raw`]).
#[cfg(target_arch = "x86_64")]
const RAW_ABIS: &[(u32, Abi)] = &[(2, Abi::SysV64), (3, Abi::Win64), (4, Abi::Win64)];
#[cfg(target_arch = "x86")]
const RAW_ABIS: &[(u32, Abi)] = &[
    (1, Abi::SysV),
    (3, Abi::ThisCall),
    (4, Abi::FastCall),
    (5, Abi::StdCall),
    (6, Abi::Pascal),
    (7, Abi::Register),
    (8, Abi::MsCdecl),
];
#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
const RAW_ABIS: &[(u32, Abi)] = &[(1, Abi::Aapcs64)];
#[cfg(all(target_arch = "arm", target_os = "linux"))]
const RAW_ABIS: &[(u32, Abi)] = &[(1, Abi::Aapcs), (2, Abi::Vfp)];

impl Abi {
    /// The C ABI of the target (`extern "C"`): on i686 Windows [`MsCdecl`](Abi::MsCdecl),
    /// as libffi's `FFI_DEFAULT_ABI` there.
    pub const DEFAULT: Abi = if cfg!(all(target_arch = "x86", windows)) {
        Abi::MsCdecl
    } else if cfg!(target_arch = "x86") {
        Abi::SysV
    } else if cfg!(target_arch = "aarch64") {
        Abi::Aapcs64
    } else if cfg!(all(target_arch = "arm", target_abi = "eabihf")) {
        Abi::Vfp
    } else if cfg!(target_arch = "arm") {
        Abi::Aapcs
    } else if cfg!(windows) {
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
    /// libffi's i386 `FFI_STDCALL`.
    pub const STDCALL: Abi = Abi::StdCall;
    /// libffi's i386 `FFI_THISCALL`.
    pub const THISCALL: Abi = Abi::ThisCall;
    /// libffi's i386 `FFI_FASTCALL`.
    pub const FASTCALL: Abi = Abi::FastCall;
    /// libffi's i386 `FFI_MS_CDECL`.
    pub const MS_CDECL: Abi = Abi::MsCdecl;
    /// libffi's i386 `FFI_PASCAL`.
    pub const PASCAL: Abi = Abi::Pascal;
    /// libffi's i386 `FFI_REGISTER`.
    pub const REGISTER: Abi = Abi::Register;

    /// The ABI for a libffi `ffi_abi` number of the target's Unix build (aliases included):
    ///
    /// | target  | numbers |
    /// |---------|---------|
    /// | x86_64  | UNIX64 = 2, WIN64 = EFI64 = 3, GNUW64 = 4 |
    /// | i386    | SYSV = 1, THISCALL = 3, FASTCALL = 4, STDCALL = 5, PASCAL = 6, REGISTER = 7, MS_CDECL = 8 |
    /// | aarch64 | SYSV = 1 (libffi's WIN64 = 2 is the Windows ABI, which this target does not implement) |
    /// | arm     | SYSV = 1 (the base standard), VFP = 2 |
    ///
    /// # Errors
    /// [`CifError::BadAbi`] for any other number (libffi's `FFI_BAD_ABI`).
    #[cfg(closure_ffi_dynamic)]
    pub fn from_raw(raw: u32) -> Result<Abi, CifError> {
        RAW_ABIS
            .iter()
            .find(|&&(number, _)| number == raw)
            .map(|&(_, abi)| abi)
            .ok_or(CifError::BadAbi(raw))
    }

    /// libffi's `ffi_abi` number of this ABI in the Unix build of the target family it
    /// belongs to (x86_64 for [`SysV64`](Abi::SysV64) and [`Win64`](Abi::Win64); aarch64
    /// `FFI_SYSV` = 1 for [`Aapcs64`](Abi::Aapcs64); arm `FFI_SYSV` = 1 and `FFI_VFP` = 2
    /// for [`Aapcs`](Abi::Aapcs) and [`Vfp`](Abi::Vfp); i386 for the others; the families'
    /// numbers overlap).
    pub fn to_raw(self) -> u32 {
        match self {
            Abi::SysV64 => 2,
            Abi::Win64 => 3,
            Abi::SysV => 1,
            Abi::ThisCall => 3,
            Abi::FastCall => 4,
            Abi::StdCall => 5,
            Abi::Pascal => 6,
            Abi::Register => 7,
            Abi::MsCdecl => 8,
            Abi::Aapcs64 => 1,
            Abi::Aapcs => 1,
            Abi::Vfp => 2,
        }
    }

    /// The executor's convention for this ABI, if the target implements it.
    #[cfg(target_arch = "x86_64")]
    pub(crate) fn convention(self) -> Option<crate::arch::dyncall::Convention> {
        use crate::arch::dyncall::Convention;
        match self {
            Abi::SysV64 => Some(Convention::SysV64),
            Abi::Win64 => Some(Convention::Win64),
            _ => None,
        }
    }

    /// The executor's convention for this ABI, if the target implements it.
    #[cfg(all(target_arch = "aarch64", target_os = "linux"))]
    pub(crate) fn convention(self) -> Option<crate::arch::dyncall::Convention> {
        use crate::arch::dyncall::Convention;
        match self {
            Abi::Aapcs64 => Some(Convention::Aapcs64),
            _ => None,
        }
    }

    /// The executor's convention for this ABI, if the target implements it.
    #[cfg(target_arch = "x86")]
    pub(crate) fn convention(self) -> Option<crate::arch::dyncall::Convention> {
        use crate::arch::x86::i386::Convention;
        Some(match self {
            Abi::SysV => Convention::SysV,
            Abi::StdCall => Convention::StdCall,
            Abi::ThisCall => Convention::ThisCall,
            Abi::FastCall => Convention::FastCall,
            Abi::MsCdecl => Convention::MsCdecl,
            Abi::Pascal => Convention::Pascal,
            Abi::Register => Convention::Register,
            _ => return None,
        })
    }

    /// The executor's convention for this ABI, if the target implements it.
    #[cfg(all(target_arch = "arm", target_os = "linux"))]
    pub(crate) fn convention(self) -> Option<crate::arch::dyncall::Convention> {
        use crate::arch::dyncall::Convention;
        match self {
            Abi::Aapcs => Some(Convention::Aapcs),
            Abi::Vfp => Some(Convention::Vfp),
            _ => None,
        }
    }
}
