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

        // SAFETY: the templates follow the trait's contract: the capturing one starts with
        // the stub and takes `Self` from the `OnceHeader` it points to; the ZST one conjures.
        unsafe impl<F: for<'va> FnOnce($($t,)* VaList<'va>) -> R, R, $($t),*>
            crate::traits::FnOnceThunk<unsafe extern "C" fn($($t,)* ...) -> R> for (Variadic, F)
        {
            const THUNK_TEMPLATE_ONCE: *const u8 = {
                #[allow(clippy::too_many_arguments)]
                unsafe extern "C" fn zst<F: for<'va> FnOnce($($t,)* VaList<'va>) -> R, R, $($t),*>(
                    $($a: $t,)* args: ...
                ) -> R {
                    // SAFETY: `(Variadic, F)` is zero-sized without drop glue (`conjurable`),
                    // so reading it from a dangling aligned pointer conjures a value the owner
                    // keeps for as long as the thunk lives, and nothing is dropped twice.
                    let this = unsafe {
                        ::core::ptr::NonNull::<(Variadic, F)>::dangling().as_ptr().read()
                    };
                    (this.1)($($a,)* args)
                }
                #[allow(clippy::too_many_arguments)]
                unsafe extern "C" fn thunk<F: for<'va> FnOnce($($t,)* VaList<'va>) -> R, R, $($t),*>(
                    $($a: $t,)* args: ...
                ) -> R {
                    let header: *const crate::__private::OnceHeader;
                    // SAFETY: the stub only writes `header`; in a thunk copy it is the
                    // thunk's `OnceHeader`, whose closure is a `(Variadic, F)`.
                    unsafe { crate::__closure_ffi_thunk_stub!(header) };
                    // SAFETY: see above; `take` detects a second call.
                    let this: (Variadic, F) = unsafe { crate::__private::OnceHeader::take(header) };
                    (this.1)($($a,)* args)
                }
                if crate::__private::conjurable::<(Variadic, F)>(true) {
                    zst::<F, R, $($t),*> as *const u8
                } else {
                    thunk::<F, R, $($t),*> as *const u8
                }
            };

            #[inline(always)]
            unsafe fn call_once<'a, 'b, 'c>(
                self,
                args: <unsafe extern "C" fn($($t,)* ...) -> R as crate::traits::FnPtr>::Args<'a, 'b, 'c>,
            ) -> <unsafe extern "C" fn($($t,)* ...) -> R as crate::traits::FnPtr>::Ret<'a, 'b, 'c> {
                let ($($a,)* va,) = args;
                (self.1)($($a,)* va)
            }
        }

        // SAFETY: as above, the capturing template reads `*mut Self` from the stub.
        unsafe impl<F: for<'va> FnMut($($t,)* VaList<'va>) -> R, R, $($t),*>
            crate::traits::FnMutThunk<unsafe extern "C" fn($($t,)* ...) -> R> for (Variadic, F)
        {
            const THUNK_TEMPLATE_MUT: *const u8 = {
                #[allow(clippy::too_many_arguments)]
                unsafe extern "C" fn zst<F: for<'va> FnMut($($t,)* VaList<'va>) -> R, R, $($t),*>(
                    $($a: $t,)* args: ...
                ) -> R {
                    // SAFETY: zero-sized: any aligned non-null pointer is a valid `&mut`.
                    let this = unsafe { &mut *::core::ptr::NonNull::<(Variadic, F)>::dangling().as_ptr() };
                    (this.1)($($a,)* args)
                }
                #[allow(clippy::too_many_arguments)]
                unsafe extern "C" fn thunk<F: for<'va> FnMut($($t,)* VaList<'va>) -> R, R, $($t),*>(
                    $($a: $t,)* args: ...
                ) -> R {
                    let this: *mut (Variadic, F);
                    // SAFETY: the stub only writes `this`: the boxed closure of the thunk.
                    unsafe { crate::__closure_ffi_thunk_stub!(this) };
                    // SAFETY: the owner keeps the box alive and forbids concurrent or
                    // re-entrant calls (BareFnMut's contract).
                    let this = unsafe { &mut *this };
                    (this.1)($($a,)* args)
                }
                if crate::__private::conjurable::<(Variadic, F)>(false) {
                    zst::<F, R, $($t),*> as *const u8
                } else {
                    thunk::<F, R, $($t),*> as *const u8
                }
            };

            #[inline(always)]
            unsafe fn call_mut<'a, 'b, 'c>(
                &mut self,
                args: <unsafe extern "C" fn($($t,)* ...) -> R as crate::traits::FnPtr>::Args<'a, 'b, 'c>,
            ) -> <unsafe extern "C" fn($($t,)* ...) -> R as crate::traits::FnPtr>::Ret<'a, 'b, 'c> {
                let ($($a,)* va,) = args;
                (self.1)($($a,)* va)
            }
        }

        // SAFETY: as above, the capturing template reads `*const Self` from the stub.
        unsafe impl<F: for<'va> Fn($($t,)* VaList<'va>) -> R, R, $($t),*>
            crate::traits::FnThunk<unsafe extern "C" fn($($t,)* ...) -> R> for (Variadic, F)
        {
            const THUNK_TEMPLATE: *const u8 = {
                #[allow(clippy::too_many_arguments)]
                unsafe extern "C" fn zst<F: for<'va> Fn($($t,)* VaList<'va>) -> R, R, $($t),*>(
                    $($a: $t,)* args: ...
                ) -> R {
                    // SAFETY: zero-sized: any aligned non-null pointer is a valid `&`.
                    let this = unsafe { &*::core::ptr::NonNull::<(Variadic, F)>::dangling().as_ptr() };
                    (this.1)($($a,)* args)
                }
                #[allow(clippy::too_many_arguments)]
                unsafe extern "C" fn thunk<F: for<'va> Fn($($t,)* VaList<'va>) -> R, R, $($t),*>(
                    $($a: $t,)* args: ...
                ) -> R {
                    let this: *const (Variadic, F);
                    // SAFETY: the stub only writes `this`: the boxed closure of the thunk.
                    unsafe { crate::__closure_ffi_thunk_stub!(this) };
                    // SAFETY: the owner keeps the box alive while the thunk may be called.
                    let this = unsafe { &*this };
                    (this.1)($($a,)* args)
                }
                if crate::__private::conjurable::<(Variadic, F)>(false) {
                    zst::<F, R, $($t),*> as *const u8
                } else {
                    thunk::<F, R, $($t),*> as *const u8
                }
            };

            #[inline(always)]
            unsafe fn call<'a, 'b, 'c>(
                &self,
                args: <unsafe extern "C" fn($($t,)* ...) -> R as crate::traits::FnPtr>::Args<'a, 'b, 'c>,
            ) -> <unsafe extern "C" fn($($t,)* ...) -> R as crate::traits::FnPtr>::Ret<'a, 'b, 'c> {
                let ($($a,)* va,) = args;
                (self.1)($($a,)* va)
            }
        }
    };
}

variadic_impls!();
