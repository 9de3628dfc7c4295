//! C-variadic thunks (feature `c_variadic`, nightly only).
//!
//! [`FnPtr`](crate::traits::FnPtr) is implemented for `unsafe extern "C" fn(T0.., ...) -> R`
//! with 0..=12 fixed arguments, and the `Fn*Thunk` traits for `(Variadic, F)` with
//! `F: for<'va> FnX(T0.., VaList<'va>) -> R`. The packed arguments are `(T0.., VaList<'a>)`.
//!
//! Each template is a real C-variadic Rust function, `thunk(a0: T0.., args: ...) -> R`: the
//! compiler's own prologue sets up the variable arguments (on x86_64 SysV it spills the
//! argument registers, with `test al, al; je` around the XMM spills, which the relocator
//! handles), then the stub, then the `VaList` is moved into the closure. As in
//! [`impls`](super::impls), a capturing closure gets the stub template and a zero-sized
//! one a template that conjures it.
//!
//! [`FnPtr::call`](crate::traits::FnPtr::call) cannot forward a `VaList` into a C-variadic
//! call (Rust has no `va_list` calling form for `...` functions), so using it for a variadic
//! pointer is a compile-time error, raised when the call is monomorphized (`cargo build`,
//! not `cargo check`). The `Fn*Thunk::call*` methods work: they call the closure directly.

use core::ffi::VaList;

/// Marker for C-variadic signatures (`unsafe extern "C" fn(T0.., ...) -> R`).
///
/// Its closures take the fixed arguments followed by the [`VaList`] of the variable ones:
/// `for<'va> FnX(T0.., VaList<'va>) -> R`. A separate marker from [`C`](super::C) so that the
/// pointer type can be inferred from the closure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Variadic;

/// Implements everything for `Variadic` and 0..=12 fixed arguments.
macro_rules! variadic_impls {
    () => {
        variadic_impls!(@step (), (
            a0 T0, a1 T1, a2 T2, a3 T3, a4 T4, a5 T5,
            a6 T6, a7 T7, a8 T8, a9 T9, a10 T10, a11 T11,
        ));
    };
    (@step ($($a:ident $t:ident,)*), ()) => {
        variadic_signature_impls!($($a $t,)*);
    };
    (@step ($($a:ident $t:ident,)*), ($na:ident $nt:ident, $($rest:tt)*)) => {
        variadic_signature_impls!($($a $t,)*);
        variadic_impls!(@step ($($a $t,)* $na $nt,), ($($rest)*));
    };
}

/// Implements everything for `Variadic` and one list of fixed arguments.
macro_rules! variadic_signature_impls {
    ($($a:ident $t:ident,)*) => {
        // SAFETY: a plain function pointer; `CC` is a zero-sized marker; `Args`/`Ret` are its
        // fixed parameters followed by the `VaList` its thunks hand to the closure, and its
        // return type; `call` never runs (it does not compile).
        unsafe impl<R, $($t),*> crate::traits::FnPtr for unsafe extern "C" fn($($t,)* ...) -> R {
            type CC = Variadic;
            type Args<'a, 'b, 'c> = ($($t,)* VaList<'a>,);
            type Ret<'a, 'b, 'c> = R;

            /// Not available: a `VaList` cannot be passed as the `...` of a call. Using it is
            /// a compile-time error (when monomorphized).
            #[inline(always)]
            #[allow(unused_variables)]
            unsafe fn call<'a, 'b, 'c>(self, args: Self::Args<'a, 'b, 'c>) -> Self::Ret<'a, 'b, 'c> {
                const {
                    panic!(
                        "closure-ffi: FnPtr::call is not available for C-variadic pointers \
                         (a VaList cannot be passed as `...`); call the pointer directly"
                    )
                }
            }

            #[inline(always)]
            unsafe fn from_ptr(ptr: *const ()) -> Self {
                // SAFETY: function pointers and `*const ()` have the same size; the caller
                // guarantees the signature.
                unsafe { ::core::mem::transmute_copy::<*const (), Self>(&ptr) }
            }

            #[inline(always)]
            fn to_ptr(self) -> *const () {
                self as *const ()
            }

            #[inline(always)]
            fn make_once_thunk<F>(fun: F) -> impl crate::traits::FnOnceThunk<Self>
            where
                F: for<'a, 'b, 'c> crate::traits::PackedFnOnce<'a, 'b, 'c, Self>,
            {
                (Variadic, move |$($a: $t,)* va: VaList<'_>| fun(($($a,)* va,)))
            }

            #[inline(always)]
            fn make_mut_thunk<F>(mut fun: F) -> impl crate::traits::FnMutThunk<Self>
            where
                F: for<'a, 'b, 'c> crate::traits::PackedFnMut<'a, 'b, 'c, Self>,
            {
                (Variadic, move |$($a: $t,)* va: VaList<'_>| fun(($($a,)* va,)))
            }

            #[inline(always)]
            fn make_thunk<F>(fun: F) -> impl crate::traits::FnThunk<Self>
            where
                F: for<'a, 'b, 'c> crate::traits::PackedFn<'a, 'b, 'c, Self>,
            {
                (Variadic, move |$($a: $t,)* va: VaList<'_>| fun(($($a,)* va,)))
            }
        }

        crate::cc::impls::thunk_trait_impls! {
            cc: Variadic,
            fn_ptr: [unsafe extern "C" fn($($t,)* ...) -> R],
            generics: [$($t),*],
            closure: [for<'va> ($($t,)* VaList<'va>) -> R],
            template: [unsafe extern "C" fn($($a: $t,)* va: ...) -> R],
            call: [$($a,)* va],
        }
    };
}

variadic_impls!();
