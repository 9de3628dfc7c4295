//! Calling-convention shorthand constructors (`new_c`, `new_c_in`, `try_new_c`, ...),
//! generated once for the three `BareFn*` families.

/// Expands, inside an `impl` of a `BareFn*Any` type, one shorthand group per marker:
/// `new_x` / `try_new_x` (global allocator) and `new_x_in` / `try_new_x_in`.
macro_rules! cc_shorthands {
    (global $thunk:ident; $($(#[$attr:meta])* $marker:ident:
        $new:ident, $new_in:ident, $try_new:ident, $try_new_in:ident;)*) => {$(
        #[doc = concat!("Wraps `fun` in a thunk with the [`", stringify!($marker),
            "`](crate::cc::", stringify!($marker), ") calling convention, in the global JIT allocator.")]
        ///
        /// # Panics
        /// If the thunk cannot be created; see the `try_` form.
        $(#[$attr])*
        #[inline]
        #[track_caller]
        pub fn $new<F>(fun: F) -> Self
        where
            F: $crate::traits::ToBoxedDyn<S>,
            ($crate::cc::$marker, F): $crate::traits::$thunk<B>,
        {
            Self::with_cc($crate::cc::$marker, fun)
        }

        #[doc = concat!("Fallible [`", stringify!($new), "`](Self::", stringify!($new), ").")]
        $(#[$attr])*
        #[inline]
        pub fn $try_new<F>(fun: F) -> Result<Self, $crate::ThunkError>
        where
            F: $crate::traits::ToBoxedDyn<S>,
            ($crate::cc::$marker, F): $crate::traits::$thunk<B>,
        {
            Self::try_with_cc($crate::cc::$marker, fun)
        }
    )*};
    (with_alloc $thunk:ident; $($(#[$attr:meta])* $marker:ident:
        $new:ident, $new_in:ident, $try_new:ident, $try_new_in:ident;)*) => {$(
        #[doc = concat!("Wraps `fun` in a thunk with the [`", stringify!($marker),
            "`](crate::cc::", stringify!($marker), ") calling convention, in `jit_alloc`.")]
        ///
        /// # Panics
        /// If the thunk cannot be created; see the `try_` form.
        $(#[$attr])*
        #[inline]
        #[track_caller]
        pub fn $new_in<F>(fun: F, jit_alloc: A) -> Self
        where
            F: $crate::traits::ToBoxedDyn<S>,
            ($crate::cc::$marker, F): $crate::traits::$thunk<B>,
        {
            Self::with_cc_in($crate::cc::$marker, fun, jit_alloc)
        }

        #[doc = concat!("Fallible [`", stringify!($new_in), "`](Self::", stringify!($new_in), ").")]
        $(#[$attr])*
        #[inline]
        pub fn $try_new_in<F>(fun: F, jit_alloc: A) -> Result<Self, $crate::ThunkError>
        where
            F: $crate::traits::ToBoxedDyn<S>,
            ($crate::cc::$marker, F): $crate::traits::$thunk<B>,
        {
            Self::try_with_cc_in($crate::cc::$marker, fun, jit_alloc)
        }
    )*};
}

/// The shorthand list, shared by the three families.
macro_rules! all_cc_shorthands {
    ($mode:ident $thunk:ident) => {
        $crate::bare_fn::shorthands::cc_shorthands! { $mode $thunk;
            Rust: new_rust, new_rust_in, try_new_rust, try_new_rust_in;
            C: new_c, new_c_in, try_new_c, try_new_c_in;
            CUnwind: new_c_unwind, new_c_unwind_in, try_new_c_unwind, try_new_c_unwind_in;
            System: new_system, new_system_in, try_new_system, try_new_system_in;
            SystemUnwind: new_system_unwind, new_system_unwind_in, try_new_system_unwind,
                try_new_system_unwind_in;
            Efiapi: new_efiapi, new_efiapi_in, try_new_efiapi, try_new_efiapi_in;
            #[cfg(feature = "c_variadic")]
            Variadic: new_variadic, new_variadic_in, try_new_variadic, try_new_variadic_in;
            #[doc(hidden)] #[deprecated(note = "misspelled in closure-ffi 5.x; use `new_efiapi`")]
            Efiapi: new_efiabi, new_efiabi_in, try_new_efiabi, try_new_efiabi_in;
            #[cfg(target_arch = "x86_64")]
            Sysv64: new_sysv64, new_sysv64_in, try_new_sysv64, try_new_sysv64_in;
            #[cfg(target_arch = "x86_64")]
            Sysv64Unwind: new_sysv64_unwind, new_sysv64_unwind_in, try_new_sysv64_unwind,
                try_new_sysv64_unwind_in;
            #[cfg(target_arch = "x86_64")]
            Win64: new_win64, new_win64_in, try_new_win64, try_new_win64_in;
            #[cfg(target_arch = "x86_64")]
            Win64Unwind: new_win64_unwind, new_win64_unwind_in, try_new_win64_unwind,
                try_new_win64_unwind_in;
            #[cfg(target_arch = "x86")]
            Cdecl: new_cdecl, new_cdecl_in, try_new_cdecl, try_new_cdecl_in;
            #[cfg(target_arch = "x86")]
            CdeclUnwind: new_cdecl_unwind, new_cdecl_unwind_in, try_new_cdecl_unwind,
                try_new_cdecl_unwind_in;
            #[cfg(target_arch = "x86")]
            Stdcall: new_stdcall, new_stdcall_in, try_new_stdcall, try_new_stdcall_in;
            #[cfg(target_arch = "x86")]
            StdcallUnwind: new_stdcall_unwind, new_stdcall_unwind_in, try_new_stdcall_unwind,
                try_new_stdcall_unwind_in;
            #[cfg(target_arch = "x86")]
            Fastcall: new_fastcall, new_fastcall_in, try_new_fastcall, try_new_fastcall_in;
            #[cfg(target_arch = "x86")]
            FastcallUnwind: new_fastcall_unwind, new_fastcall_unwind_in, try_new_fastcall_unwind,
                try_new_fastcall_unwind_in;
            #[cfg(target_arch = "x86")]
            Thiscall: new_thiscall, new_thiscall_in, try_new_thiscall, try_new_thiscall_in;
            #[cfg(target_arch = "x86")]
            ThiscallUnwind: new_thiscall_unwind, new_thiscall_unwind_in, try_new_thiscall_unwind,
                try_new_thiscall_unwind_in;
            #[cfg(target_arch = "arm")]
            Aapcs: new_aapcs, new_aapcs_in, try_new_aapcs, try_new_aapcs_in;
            #[cfg(target_arch = "arm")]
            AapcsUnwind: new_aapcs_unwind, new_aapcs_unwind_in, try_new_aapcs_unwind,
                try_new_aapcs_unwind_in;
        }
    };
}

pub(crate) use all_cc_shorthands;
pub(crate) use cc_shorthands;
