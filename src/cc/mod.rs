//! Calling-convention marker types.
//!
//! Each marker is a zero-sized type naming an ABI; [`FnPtr`](crate::traits::FnPtr) and the
//! thunk traits are implemented for `unsafe extern "<abi>" fn` pointers of 0..=12 arguments
//! and for `(Marker, closure)` pairs. Markers exist for every ABI the target architecture
//! supports, with their `-unwind` variants (a panic in the closure unwinds into the caller
//! instead of aborting).
//!
//! | marker | ABI | targets |
//! |---|---|---|
//! | [`Rust`] | `"Rust"` (stable only within one binary) | all (x86_64, x86, aarch64, arm) |
//! | [`C`], [`CUnwind`] | `"C"`, `"C-unwind"` | all |
//! | [`System`], [`SystemUnwind`] | `"system"`, `"system-unwind"` | all |
//! | [`Efiapi`] | `"efiapi"` | all |
//! | `Sysv64`, `Sysv64Unwind`, `Win64`, `Win64Unwind` | `"sysv64"`, `"win64"` (+unwind) | x86_64 |
//! | `Cdecl`, `Stdcall`, `Fastcall`, `Thiscall` (+`Unwind`) | the x86 ABIs | x86 |
//! | `Aapcs`, `AapcsUnwind` | `"aapcs"`, `"aapcs-unwind"` (the base AAPCS: floating point in core registers) | arm (32-bit) |

pub(crate) mod impls;
#[cfg(feature = "c_variadic")]
mod variadic;
#[cfg(feature = "c_variadic")]
pub use variadic::Variadic;

macro_rules! markers {
    ($($(#[cfg($cfg:meta)])? $name:ident => $abi:literal;)*) => {$(
        #[doc = concat!("Marker for the `extern \"", $abi, "\"` calling convention.")]
        $(#[cfg($cfg)])?
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        pub struct $name;

        $(#[cfg($cfg)])?
        impls::cc_impls!($name, $abi);
    )*};
}

markers! {
    Rust => "Rust";
    C => "C";
    CUnwind => "C-unwind";
    System => "system";
    SystemUnwind => "system-unwind";
    Efiapi => "efiapi";
    #[cfg(target_arch = "x86_64")] Sysv64 => "sysv64";
    #[cfg(target_arch = "x86_64")] Sysv64Unwind => "sysv64-unwind";
    #[cfg(target_arch = "x86_64")] Win64 => "win64";
    #[cfg(target_arch = "x86_64")] Win64Unwind => "win64-unwind";
    #[cfg(target_arch = "x86")] Cdecl => "cdecl";
    #[cfg(target_arch = "x86")] CdeclUnwind => "cdecl-unwind";
    #[cfg(target_arch = "x86")] Stdcall => "stdcall";
    #[cfg(target_arch = "x86")] StdcallUnwind => "stdcall-unwind";
    #[cfg(target_arch = "x86")] Fastcall => "fastcall";
    #[cfg(target_arch = "x86")] FastcallUnwind => "fastcall-unwind";
    #[cfg(target_arch = "x86")] Thiscall => "thiscall";
    #[cfg(target_arch = "x86")] ThiscallUnwind => "thiscall-unwind";
    #[cfg(target_arch = "arm")] Aapcs => "aapcs";
    #[cfg(target_arch = "arm")] AapcsUnwind => "aapcs-unwind";
}
