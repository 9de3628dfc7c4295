//! Factories for thunk values built from a closure over the packed argument tuple, keeping
//! its `Send`/`Sync`-ness visible (an opaque `impl Trait` would otherwise hide it).
//!
//! Hooking libraries use these to wrap their own state around a user closure and then build
//! a `BareFn*` with `with_thunk`/`with_thunk_in`.

use crate::traits::{FnMutThunk, FnOnceThunk, FnPtr, FnThunk, PackedFn, PackedFnMut, PackedFnOnce};

/// Thunk wrappers that assert exactly one set of auto traits. Auto traits leak through
/// `impl Trait` return types, so each wrapper implements only the traits its factory
/// promises; the others are derived from the wrapped thunk as usual (for example
/// `AssertSend<T>` is `Sync` only if `T` is).
macro_rules! wrappers {
    ($($name:ident: $($auto:ident),+;)*) => {$(
        #[repr(transparent)]
        struct $name<T>(T);

        $(
            // SAFETY: only constructed by the factories below, each of which requires the
            // closure (the thunk's only non-zero-sized part, the other being a ZST
            // calling-convention marker) to implement this trait.
            unsafe impl<T> $auto for $name<T> {}
        )+

        // SAFETY: `#[repr(transparent)]` over `T`: a template that reads a `T` from the stub
        // pointer reads this wrapper correctly, and it is zero-sized (and has drop glue)
        // exactly when `T` is (does).
        unsafe impl<B: FnPtr, T: FnOnceThunk<B>> FnOnceThunk<B> for $name<T> {
            const THUNK_TEMPLATE_ONCE: *const u8 = T::THUNK_TEMPLATE_ONCE;

            #[inline(always)]
            unsafe fn call_once<'a, 'b, 'c>(self, args: B::Args<'a, 'b, 'c>) -> B::Ret<'a, 'b, 'c> {
                // SAFETY: forwarded contract.
                unsafe { self.0.call_once(args) }
            }
        }

        // SAFETY: as for FnOnceThunk.
        unsafe impl<B: FnPtr, T: FnMutThunk<B>> FnMutThunk<B> for $name<T> {
            const THUNK_TEMPLATE_MUT: *const u8 = T::THUNK_TEMPLATE_MUT;

            #[inline(always)]
            unsafe fn call_mut<'a, 'b, 'c>(&mut self, args: B::Args<'a, 'b, 'c>) -> B::Ret<'a, 'b, 'c> {
                // SAFETY: forwarded contract.
                unsafe { self.0.call_mut(args) }
            }
        }

        // SAFETY: as for FnOnceThunk.
        unsafe impl<B: FnPtr, T: FnThunk<B>> FnThunk<B> for $name<T> {
            const THUNK_TEMPLATE: *const u8 = T::THUNK_TEMPLATE;

            #[inline(always)]
            unsafe fn call<'a, 'b, 'c>(&self, args: B::Args<'a, 'b, 'c>) -> B::Ret<'a, 'b, 'c> {
                // SAFETY: forwarded contract.
                unsafe { self.0.call(args) }
            }
        }
    )*};
}

wrappers! {
    AssertSend: Send;
    AssertSync: Sync;
    AssertSendSync: Send, Sync;
}

macro_rules! factories {
    ($($trait:ident, $make:ident, $packed:ident:
        $plain:ident [$($pb:tt)*], $send:ident, $sync:ident, $send_sync:ident;)*) => {$(
        #[doc = concat!("Makes a [`", stringify!($trait), "`] from a closure over `B`'s packed arguments (same as [`FnPtr::", stringify!($make), "`]).")]
        #[inline(always)]
        pub fn $plain<B: FnPtr, F>(fun: F) -> impl $trait<B>
        where
            F: $($pb)* for<'x, 'y, 'z> $packed<'x, 'y, 'z, B>,
        {
            B::$make(fun)
        }

        #[doc = concat!("Makes a `Send` [`", stringify!($trait), "`] from a `Send` closure.")]
        #[inline(always)]
        pub fn $send<B: FnPtr, F>(fun: F) -> impl $trait<B> + Send
        where
            F: Send + for<'x, 'y, 'z> $packed<'x, 'y, 'z, B>,
        {
            AssertSend(B::$make(fun))
        }

        #[doc = concat!("Makes a `Sync` [`", stringify!($trait), "`] from a `Sync` closure.")]
        #[inline(always)]
        pub fn $sync<B: FnPtr, F>(fun: F) -> impl $trait<B> + Sync
        where
            F: Sync + for<'x, 'y, 'z> $packed<'x, 'y, 'z, B>,
        {
            AssertSync(B::$make(fun))
        }

        #[doc = concat!("Makes a `Send + Sync` [`", stringify!($trait), "`] from a `Send + Sync` closure.")]
        #[inline(always)]
        pub fn $send_sync<B: FnPtr, F>(fun: F) -> impl $trait<B> + Send + Sync
        where
            F: Send + Sync + for<'x, 'y, 'z> $packed<'x, 'y, 'z, B>,
        {
            AssertSendSync(B::$make(fun))
        }
    )*};
}

factories! {
    // closure-ffi 5.x requires `Send` for the plain `make_once`; we keep that bound so that
    // code written for it infers the same way.
    FnOnceThunk, make_once_thunk, PackedFnOnce:
        make_once [Send +], make_once_send, make_once_sync, make_once_send_sync;
    FnMutThunk, make_mut_thunk, PackedFnMut:
        make_mut [], make_mut_send, make_mut_sync, make_mut_send_sync;
    FnThunk, make_thunk, PackedFn:
        make [], make_send, make_sync, make_send_sync;
}
