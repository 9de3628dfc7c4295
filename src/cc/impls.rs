//! The macro that implements [`FnPtr`](crate::traits::FnPtr) and the `Fn*Thunk` traits for
//! one calling-convention marker and every arity 0..=12, with the thunk templates.
//!
//! Each template is an `unsafe extern "<abi>" fn` monomorphized per closure type. For a
//! capturing closure it begins with the stub (`__closure_ffi_thunk_stub!`), which in a thunk
//! copy loads the closure pointer; a zero-sized closure gets a separate template that
//! conjures the closure and never runs a stub, so the template itself is the thunk.

/// Implements everything for `$cc` (ABI `$abi`) and arities 0..=12.
macro_rules! cc_impls {
    ($cc:ty, $abi:literal) => {
        $crate::cc::impls::cc_impls!(@step $cc, $abi, (), (
            a0 T0 0, a1 T1 1, a2 T2 2, a3 T3 3, a4 T4 4, a5 T5 5,
            a6 T6 6, a7 T7 7, a8 T8 8, a9 T9 9, a10 T10 10, a11 T11 11,
        ));
    };
    (@step $cc:ty, $abi:literal, ($($a:ident $t:ident $i:tt,)*), ()) => {
        $crate::cc::impls::signature_impls!($cc, $abi, $($a $t $i,)*);
    };
    (@step $cc:ty, $abi:literal, ($($a:ident $t:ident $i:tt,)*),
        ($na:ident $nt:ident $ni:tt, $($rest:tt)*)) => {
        $crate::cc::impls::signature_impls!($cc, $abi, $($a $t $i,)*);
        $crate::cc::impls::cc_impls!(@step $cc, $abi, ($($a $t $i,)* $na $nt $ni,), ($($rest)*));
    };
}

/// Implements everything for `$cc` (ABI `$abi`) and one argument list.
macro_rules! signature_impls {
    ($cc:ty, $abi:literal, $($a:ident $t:ident $i:tt,)*) => {
        // SAFETY: a plain function pointer; `CC` is a zero-sized marker; `Args`/`Ret` are its
        // parameter tuple and return type.
        unsafe impl<R, $($t),*> $crate::traits::FnPtr for unsafe extern $abi fn($($t),*) -> R {
            type CC = $cc;
            type Args<'a, 'b, 'c> = ($($t,)*);
            type Ret<'a, 'b, 'c> = R;

            #[inline(always)]
            #[allow(unused_variables)]
            unsafe fn call<'a, 'b, 'c>(self, args: Self::Args<'a, 'b, 'c>) -> Self::Ret<'a, 'b, 'c> {
                // SAFETY: forwarded from the caller.
                unsafe { (self)($(args.$i),*) }
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
            fn make_once_thunk<F>(fun: F) -> impl $crate::traits::FnOnceThunk<Self>
            where
                F: for<'a, 'b, 'c> $crate::traits::PackedFnOnce<'a, 'b, 'c, Self>,
            {
                (<$cc>::default(), move |$($a: $t),*| fun(($($a,)*)))
            }

            #[inline(always)]
            fn make_mut_thunk<F>(mut fun: F) -> impl $crate::traits::FnMutThunk<Self>
            where
                F: for<'a, 'b, 'c> $crate::traits::PackedFnMut<'a, 'b, 'c, Self>,
            {
                (<$cc>::default(), move |$($a: $t),*| fun(($($a,)*)))
            }

            #[inline(always)]
            fn make_thunk<F>(fun: F) -> impl $crate::traits::FnThunk<Self>
            where
                F: for<'a, 'b, 'c> $crate::traits::PackedFn<'a, 'b, 'c, Self>,
            {
                (<$cc>::default(), move |$($a: $t),*| fun(($($a,)*)))
            }
        }

        $crate::cc::impls::thunk_trait_impls! {
            cc: $cc,
            fn_ptr: [unsafe extern $abi fn($($t),*) -> R],
            generics: [$($t),*],
            closure: [for<> ($($t),*) -> R],
            template: [unsafe extern $abi fn($($a: $t),*) -> R],
            call: [$($a),*],
        }
    };
}

/// The three `Fn*Thunk` impls for `($cc, F)` and one signature, with their templates: a
/// capturing one that starts with the stub, and a zero-sized one that conjures the closure.
///
/// - `fn_ptr`: the bare function pointer type the impls are for;
/// - `generics`: the signature's type parameters (besides `F` and `R`);
/// - `closure`: `F`'s call signature, with its higher-ranked lifetimes (`for<'va> (T0,
///   VaList<'va>) -> R`; `for<>` when there are none);
/// - `template`: the template's signature (parameter names included), with `R` as return;
/// - `call`: the names the template passes to the closure, which are also the elements of
///   the packed argument tuple.
macro_rules! thunk_trait_impls {
    (
        cc: $cc:ty,
        fn_ptr: [$($fn_ptr:tt)*],
        generics: [$($t:ident),*],
        closure: [for<$($hr:lifetime),*> ($($closure_args:tt)*) -> R],
        template: [unsafe extern $abi:literal fn($($params:tt)*) -> R],
        call: [$($a:ident),*],
    ) => {
        // SAFETY: the templates follow the trait's contract: the capturing one starts with
        // the stub and takes `Self` from the `OnceHeader` it points to; the ZST one conjures.
        unsafe impl<F: for<$($hr),*> FnOnce($($closure_args)*) -> R, R, $($t),*>
            $crate::traits::FnOnceThunk<$($fn_ptr)*> for ($cc, F)
        {
            const THUNK_TEMPLATE_ONCE: *const u8 = {
                #[allow(clippy::too_many_arguments)]
                unsafe extern $abi fn zst<F: for<$($hr),*> FnOnce($($closure_args)*) -> R, R, $($t),*>(
                    $($params)*
                ) -> R {
                    // SAFETY: `($cc, F)` is zero-sized without drop glue (`conjurable`), so
                    // reading it from a dangling aligned pointer conjures a value the owner
                    // keeps for as long as the thunk lives, and nothing is dropped twice.
                    let this = unsafe {
                        ::core::ptr::NonNull::<($cc, F)>::dangling().as_ptr().read()
                    };
                    (this.1)($($a),*)
                }
                #[allow(clippy::too_many_arguments)]
                unsafe extern $abi fn thunk<F: for<$($hr),*> FnOnce($($closure_args)*) -> R, R, $($t),*>(
                    $($params)*
                ) -> R {
                    let header: *const $crate::__private::OnceHeader;
                    // SAFETY: the stub only writes `header`; in a thunk copy it is the
                    // thunk's `OnceHeader`, whose closure is a `($cc, F)`.
                    unsafe { $crate::__closure_ffi_thunk_stub!(header) };
                    // SAFETY: see above; `take` detects a second call.
                    let this: ($cc, F) = unsafe { $crate::__private::OnceHeader::take(header) };
                    (this.1)($($a),*)
                }
                if $crate::__private::conjurable::<($cc, F)>(true) {
                    zst::<F, R, $($t),*> as *const u8
                } else {
                    thunk::<F, R, $($t),*> as *const u8
                }
            };

            #[inline(always)]
            unsafe fn call_once<'a, 'b, 'c>(
                self,
                args: <$($fn_ptr)* as $crate::traits::FnPtr>::Args<'a, 'b, 'c>,
            ) -> <$($fn_ptr)* as $crate::traits::FnPtr>::Ret<'a, 'b, 'c> {
                let ($($a,)*) = args;
                (self.1)($($a),*)
            }
        }

        // SAFETY: as above, the capturing template reads `*mut Self` from the stub.
        unsafe impl<F: for<$($hr),*> FnMut($($closure_args)*) -> R, R, $($t),*>
            $crate::traits::FnMutThunk<$($fn_ptr)*> for ($cc, F)
        {
            const THUNK_TEMPLATE_MUT: *const u8 = {
                #[allow(clippy::too_many_arguments)]
                unsafe extern $abi fn zst<F: for<$($hr),*> FnMut($($closure_args)*) -> R, R, $($t),*>(
                    $($params)*
                ) -> R {
                    // SAFETY: zero-sized: any aligned non-null pointer is a valid `&mut`.
                    let this = unsafe { &mut *::core::ptr::NonNull::<($cc, F)>::dangling().as_ptr() };
                    (this.1)($($a),*)
                }
                #[allow(clippy::too_many_arguments)]
                unsafe extern $abi fn thunk<F: for<$($hr),*> FnMut($($closure_args)*) -> R, R, $($t),*>(
                    $($params)*
                ) -> R {
                    let this: *mut ($cc, F);
                    // SAFETY: the stub only writes `this`: the stored closure of the thunk.
                    unsafe { $crate::__closure_ffi_thunk_stub!(this) };
                    // SAFETY: the owner keeps the closure alive and forbids concurrent or
                    // re-entrant calls (BareFnMut's contract).
                    let this = unsafe { &mut *this };
                    (this.1)($($a),*)
                }
                if $crate::__private::conjurable::<($cc, F)>(false) {
                    zst::<F, R, $($t),*> as *const u8
                } else {
                    thunk::<F, R, $($t),*> as *const u8
                }
            };

            #[inline(always)]
            unsafe fn call_mut<'a, 'b, 'c>(
                &mut self,
                args: <$($fn_ptr)* as $crate::traits::FnPtr>::Args<'a, 'b, 'c>,
            ) -> <$($fn_ptr)* as $crate::traits::FnPtr>::Ret<'a, 'b, 'c> {
                let ($($a,)*) = args;
                (self.1)($($a),*)
            }
        }

        // SAFETY: as above, the capturing template reads `*const Self` from the stub.
        unsafe impl<F: for<$($hr),*> Fn($($closure_args)*) -> R, R, $($t),*>
            $crate::traits::FnThunk<$($fn_ptr)*> for ($cc, F)
        {
            const THUNK_TEMPLATE: *const u8 = {
                #[allow(clippy::too_many_arguments)]
                unsafe extern $abi fn zst<F: for<$($hr),*> Fn($($closure_args)*) -> R, R, $($t),*>(
                    $($params)*
                ) -> R {
                    // SAFETY: zero-sized: any aligned non-null pointer is a valid `&`.
                    let this = unsafe { &*::core::ptr::NonNull::<($cc, F)>::dangling().as_ptr() };
                    (this.1)($($a),*)
                }
                #[allow(clippy::too_many_arguments)]
                unsafe extern $abi fn thunk<F: for<$($hr),*> Fn($($closure_args)*) -> R, R, $($t),*>(
                    $($params)*
                ) -> R {
                    let this: *const ($cc, F);
                    // SAFETY: the stub only writes `this`: the stored closure of the thunk.
                    unsafe { $crate::__closure_ffi_thunk_stub!(this) };
                    // SAFETY: the owner keeps the closure alive while the thunk may be called.
                    let this = unsafe { &*this };
                    (this.1)($($a),*)
                }
                if $crate::__private::conjurable::<($cc, F)>(false) {
                    zst::<F, R, $($t),*> as *const u8
                } else {
                    thunk::<F, R, $($t),*> as *const u8
                }
            };

            #[inline(always)]
            unsafe fn call<'a, 'b, 'c>(
                &self,
                args: <$($fn_ptr)* as $crate::traits::FnPtr>::Args<'a, 'b, 'c>,
            ) -> <$($fn_ptr)* as $crate::traits::FnPtr>::Ret<'a, 'b, 'c> {
                let ($($a,)*) = args;
                (self.1)($($a),*)
            }
        }
    };
}

pub(crate) use cc_impls;
pub(crate) use signature_impls;
pub(crate) use thunk_trait_impls;
