//! The `BareFn` family: owners of a closure and the thunk that exposes it as a bare
//! function pointer.
//!
//! | family | typed (generic erasure) | aliases | untyped | thunk trait |
//! |---|---|---|---|---|
//! | `FnOnce` | [`BareFnOnceAny<B, S, A>`] | [`BareFnOnce`] (`dyn Any`), [`BareFnOnceSync`] (`dyn Send`) | [`UntypedBareFnOnce`] | [`FnOnceThunk`] |
//! | `FnMut` | [`BareFnMutAny<B, S, A>`] | [`BareFnMut`] (`dyn Any`), [`BareFnMutSync`] (`dyn Send`) | [`UntypedBareFnMut`] | [`FnMutThunk`] |
//! | `Fn` | [`BareFnAny<B, S, A>`] | [`BareFn`] (`dyn Any`), [`BareFnSync`] (`dyn Send + Sync`) | [`UntypedBareFn`] | [`FnThunk`] |
//!
//! `B` is the bare function pointer type, `S` the trait object that erases the closure's type
//! (it carries the `Send`/`Sync` bounds), `A` the [`JitAlloc`].
//!
//! # Safety contract of the bare pointer
//! The methods are safe; calling the pointer is `unsafe` and requires:
//! - the owner is alive (not dropped) when the pointer is called, except for
//!   [`BareFnOnceAny::into_bare`], which gives up ownership;
//! - `BareFnMut`: no concurrent or re-entrant calls;
//! - `BareFnOnce`: at most one call (a second one is detected and aborts the process);
//! - calls from another thread require the erasure type to be `Send` (Once, Mut) or
//!   `Sync` (Fn), which the `*Sync` aliases guarantee.

pub(crate) mod shorthands;
mod storage;

use alloc::boxed::Box;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;

#[cfg(feature = "global_jit_alloc")]
use crate::jit_alloc::GlobalJitAlloc;
use crate::jit_alloc::JitAlloc;
use crate::thunk::once::OnceHeader;
use crate::thunk::{AllocatedThunk, ThunkError};
use crate::traits::{Any, FnMutThunk, FnOnceThunk, FnPtr, FnThunk, ToBoxedDyn};
use storage::Stored;

/// Defines a struct with `A = GlobalJitAlloc` as default when that allocator exists.
macro_rules! with_default_alloc {
    ($(#[$m:meta])* pub struct $name:ident [$($gens:tt)*] $body:tt) => {
        #[cfg(feature = "global_jit_alloc")]
        $(#[$m])*
        pub struct $name<$($gens)* A: JitAlloc = GlobalJitAlloc> $body
        #[cfg(not(feature = "global_jit_alloc"))]
        $(#[$m])*
        pub struct $name<$($gens)* A: JitAlloc> $body
    };
}

/// Panics with the reason a `try_` constructor failed (used by the non-`try_` forms).
#[cold]
#[track_caller]
fn creation_failed(e: ThunkError) -> ! {
    panic!("closure-ffi: {e}")
}

/// Compile-time check that a `(CC, F)` pair is laid out exactly as `F`, so a boxed `F` can be
/// used as the `(CC, F)` the templates read.
struct SameLayout<CC, F>(PhantomData<(CC, F)>);
impl<CC, F> SameLayout<CC, F> {
    const OK: () = assert!(
        core::mem::size_of::<CC>() == 0
            && core::mem::size_of::<(CC, F)>() == core::mem::size_of::<F>()
            && core::mem::align_of::<(CC, F)>() == core::mem::align_of::<F>()
            && core::mem::offset_of!((CC, F), 1) == 0,
        "calling-convention markers must be zero-sized with alignment 1"
    );
}

macro_rules! bare_fn_family {
    (
        family: $family:literal,
        untyped: $untyped:ident,
        any: $any:ident,
        alias: $alias:ident,
        sync_alias: $sync_alias:ident = $sync_dyn:ty,
        thunk: $thunk:ident :: $template:ident,
        once: $once:literal,
        send_bound: [$($send:tt)*],
        sync_bound: [$($sync:tt)*],
        calls: $calls:literal,
    ) => {
        with_default_alloc! {
            #[doc = concat!("An `", $family, "` closure behind a thunk, with its type erased.")]
            ///
            /// Obtained from the typed form with `into_untyped()` or `.into()`; useful to
            /// keep thunks of different signatures in one collection.
            pub struct $untyped[S: ?Sized,] {
                thunk: AllocatedThunk<A>,
                storage: Stored<S>,
            }
        }

        with_default_alloc! {
            #[doc = concat!("Owns an `", $family, "` closure and a thunk that exposes it as the bare function pointer `B`.")]
            ///
            /// See the [module docs](crate::bare_fn) for the type parameters and the safety
            /// contract of the pointer.
            #[repr(transparent)]
            pub struct $any[B: FnPtr, S: ?Sized,] {
                untyped: $untyped<S, A>,
                phantom: PhantomData<B>,
            }
        }

        #[doc = concat!("[`", stringify!($any), "`] with no thread-safety bound on the closure.")]
        #[cfg(feature = "global_jit_alloc")]
        pub type $alias<'a, B, A = GlobalJitAlloc> = $any<B, dyn Any + 'a, A>;
        #[doc = concat!("[`", stringify!($any), "`] with no thread-safety bound on the closure.")]
        #[cfg(not(feature = "global_jit_alloc"))]
        pub type $alias<'a, B, A> = $any<B, dyn Any + 'a, A>;

        #[doc = concat!("[`", stringify!($any), "`] whose closure may be called from other threads.")]
        #[cfg(feature = "global_jit_alloc")]
        pub type $sync_alias<'a, B, A = GlobalJitAlloc> = $any<B, $sync_dyn, A>;
        #[doc = concat!("[`", stringify!($any), "`] whose closure may be called from other threads.")]
        #[cfg(not(feature = "global_jit_alloc"))]
        pub type $sync_alias<'a, B, A> = $any<B, $sync_dyn, A>;

        // SAFETY: the owner holds a box of `S` and an allocator; moving it moves both.
        unsafe impl<S: ?Sized + $($send)*, A: JitAlloc + Send> Send for $untyped<S, A> {}
        // SAFETY: `&self` only exposes the pointer; calling it from another thread needs the
        // erased closure to satisfy the family's bound.
        unsafe impl<S: ?Sized + $($sync)*, A: JitAlloc> Sync for $untyped<S, A> {}

        impl<S: ?Sized, A: JitAlloc> core::fmt::Debug for $untyped<S, A> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($untyped)).field("bare", &self.thunk.entry).finish()
            }
        }

        impl<B: FnPtr, S: ?Sized, A: JitAlloc> core::fmt::Debug for $any<B, S, A> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($any)).field("bare", &self.untyped.thunk.entry).finish()
            }
        }

        impl<S: ?Sized, A: JitAlloc> $untyped<S, A> {
            #[doc = concat!("The thunk pointer, valid while `self` is alive. ", $calls)]
            #[inline(always)]
            pub fn bare(&self) -> *const () {
                self.thunk.entry.cast()
            }

            /// Builds the owner from a stored thunk value `T` erased as `S`.
            ///
            /// # Safety
            /// `storage` must hold a `T` (layout of `T`, drop glue of whatever was stored),
            /// and `template` must be `T`'s thunk template for this family.
            #[inline(always)]
            unsafe fn from_storage<T>(
                template: *const u8,
                storage: Stored<S>,
                jit_alloc: A,
            ) -> Result<Self, ThunkError> {
                let thunk = if crate::thunk::conjurable::<T>($once) {
                    AllocatedThunk::zst(template, jit_alloc)
                } else {
                    // SAFETY: `template` is `T`'s template and reads the pointer we give as
                    // a `T` (through a header for FnOnce); the box outlives the thunk (it is
                    // freed after it in `Drop`).
                    match unsafe {
                        AllocatedThunk::new(template, storage.ptr.cast::<u8>(), $once, jit_alloc)
                    } {
                        Ok(thunk) => thunk,
                        Err(e) => {
                            // SAFETY: the closure was never called; we still own it.
                            unsafe { storage.drop_and_free() };
                            return Err(e);
                        }
                    }
                };
                Ok(Self { thunk, storage })
            }

            /// Leaks the closure and its thunk, returning the thunk pointer.
            #[inline]
            pub fn leak(self) -> *const ()
            where
                Self: 'static,
            {
                ManuallyDrop::new(self).thunk.entry.cast()
            }

            /// Weakens the erasure type (e.g. `dyn Send + Sync` to `dyn Send`).
            #[inline]
            pub fn upcast<U: ?Sized>(self) -> $untyped<U, A>
            where
                PhantomData<S>: ToBoxedDyn<U>,
            {
                let this = ManuallyDrop::new(self);
                // SAFETY: `this` is never dropped; we move its fields out exactly once.
                let thunk = unsafe { core::ptr::read(&this.thunk) };
                // SAFETY: `PhantomData<S>: ToBoxedDyn<U>` holds only when `U` is `S` with
                // fewer marker traits; such trait objects (dyn Any/Send/Sync combinations)
                // share one metadata layout: drop glue, size and alignment.
                let ptr = unsafe { core::mem::transmute_copy::<*mut S, *mut U>(&this.storage.ptr) };
                $untyped { thunk, storage: Stored { ptr, recycled: this.storage.recycled } }
            }
        }

        impl<B: FnPtr, S: ?Sized, A: JitAlloc> $any<B, S, A> {
            #[doc = concat!("The bare function pointer, valid while `self` is alive (see the \
                [safety contract](crate::bare_fn#safety-contract-of-the-bare-pointer)). ", $calls)]
            #[inline(always)]
            pub fn bare(&self) -> B {
                // SAFETY: the thunk has signature `B`.
                unsafe { B::from_ptr(self.untyped.thunk.entry.cast()) }
            }

            /// Wraps the thunk value `thunk` (e.g. from [`thunk_factory`](crate::thunk_factory)),
            /// in `jit_alloc`.
            #[inline]
            pub fn try_with_thunk_in<T>(thunk: T, jit_alloc: A) -> Result<Self, ThunkError>
            where
                T: $thunk<B> + ToBoxedDyn<S>,
            {
                let storage = storage::store::<S, T>(thunk);
                // SAFETY: the storage holds a `T`, and the template is `T`'s.
                let untyped = unsafe {
                    $untyped::from_storage::<T>(<T as $thunk<B>>::$template, storage, jit_alloc)?
                };
                Ok(Self { untyped, phantom: PhantomData })
            }

            /// Panicking [`try_with_thunk_in`](Self::try_with_thunk_in).
            #[inline]
            #[track_caller]
            pub fn with_thunk_in<T>(thunk: T, jit_alloc: A) -> Self
            where
                T: $thunk<B> + ToBoxedDyn<S>,
            {
                Self::try_with_thunk_in(thunk, jit_alloc).unwrap_or_else(|e| creation_failed(e))
            }

            /// Wraps `fun` in a thunk with the calling convention `cconv`, in `jit_alloc`.
            ///
            /// `B` is inferred from the context, or from `cconv` and the closure's argument
            /// types.
            #[inline]
            pub fn try_with_cc_in<CC, F>(cconv: CC, fun: F, jit_alloc: A) -> Result<Self, ThunkError>
            where
                F: ToBoxedDyn<S>,
                (CC, F): $thunk<B>,
            {
                let () = SameLayout::<CC, F>::OK;
                let _ = cconv;
                let storage = storage::store::<S, F>(fun);
                // SAFETY: `(CC, F)` has `F`'s layout (checked above) and `CC` is a ZST that
                // may be conjured (FnPtr's contract), so the stored `F` is a valid `(CC, F)`;
                // the template is `(CC, F)`'s.
                let untyped = unsafe {
                    $untyped::from_storage::<(CC, F)>(
                        <(CC, F) as $thunk<B>>::$template,
                        storage,
                        jit_alloc,
                    )?
                };
                Ok(Self { untyped, phantom: PhantomData })
            }

            /// Panicking [`try_with_cc_in`](Self::try_with_cc_in).
            #[inline]
            #[track_caller]
            pub fn with_cc_in<CC, F>(cconv: CC, fun: F, jit_alloc: A) -> Self
            where
                F: ToBoxedDyn<S>,
                (CC, F): $thunk<B>,
            {
                Self::try_with_cc_in(cconv, fun, jit_alloc).unwrap_or_else(|e| creation_failed(e))
            }

            /// Wraps `fun` with `B`'s own calling convention, in `jit_alloc`.
            #[inline]
            pub fn try_new_in<F>(fun: F, jit_alloc: A) -> Result<Self, ThunkError>
            where
                F: ToBoxedDyn<S>,
                (B::CC, F): $thunk<B>,
            {
                Self::try_with_cc_in(B::CC::default(), fun, jit_alloc)
            }

            /// Panicking [`try_new_in`](Self::try_new_in).
            #[inline]
            #[track_caller]
            pub fn new_in<F>(fun: F, jit_alloc: A) -> Self
            where
                F: ToBoxedDyn<S>,
                (B::CC, F): $thunk<B>,
            {
                Self::with_cc_in(B::CC::default(), fun, jit_alloc)
            }

            shorthands::all_cc_shorthands!(with_alloc $thunk);

            /// Leaks the closure and its thunk, returning the bare function pointer.
            #[inline]
            pub fn leak(self) -> B
            where
                Self: 'static,
            {
                let ptr = ManuallyDrop::new(self).untyped.thunk.entry;
                // SAFETY: the thunk has signature `B`.
                unsafe { B::from_ptr(ptr.cast()) }
            }

            /// Erases `B`.
            #[inline]
            pub fn into_untyped(self) -> $untyped<S, A> {
                self.untyped
            }

            /// Weakens the erasure type (e.g. `dyn Send + Sync` to `dyn Send`).
            #[inline]
            pub fn upcast<U: ?Sized>(self) -> $any<B, U, A>
            where
                PhantomData<S>: ToBoxedDyn<U>,
            {
                $any { untyped: self.untyped.upcast(), phantom: PhantomData }
            }
        }

        #[cfg(feature = "global_jit_alloc")]
        impl<B: FnPtr, S: ?Sized> $any<B, S, GlobalJitAlloc> {
            /// Wraps `fun` with `B`'s own calling convention, in the global JIT allocator.
            ///
            /// # Panics
            /// If the thunk cannot be created; see [`try_new`](Self::try_new).
            #[inline]
            #[track_caller]
            pub fn new<F>(fun: F) -> Self
            where
                F: ToBoxedDyn<S>,
                (B::CC, F): $thunk<B>,
            {
                Self::new_in(fun, GlobalJitAlloc)
            }

            /// Fallible [`new`](Self::new).
            #[inline]
            pub fn try_new<F>(fun: F) -> Result<Self, ThunkError>
            where
                F: ToBoxedDyn<S>,
                (B::CC, F): $thunk<B>,
            {
                Self::try_new_in(fun, GlobalJitAlloc)
            }

            /// Wraps `fun` in a thunk with the calling convention `cconv`, in the global JIT
            /// allocator. `B` can be inferred from `cconv` and the closure's argument types.
            ///
            /// # Panics
            /// If the thunk cannot be created; see [`try_with_cc`](Self::try_with_cc).
            #[inline]
            #[track_caller]
            pub fn with_cc<CC, F>(cconv: CC, fun: F) -> Self
            where
                F: ToBoxedDyn<S>,
                (CC, F): $thunk<B>,
            {
                Self::with_cc_in(cconv, fun, GlobalJitAlloc)
            }

            /// Fallible [`with_cc`](Self::with_cc).
            #[inline]
            pub fn try_with_cc<CC, F>(cconv: CC, fun: F) -> Result<Self, ThunkError>
            where
                F: ToBoxedDyn<S>,
                (CC, F): $thunk<B>,
            {
                Self::try_with_cc_in(cconv, fun, GlobalJitAlloc)
            }

            /// Wraps a thunk value, in the global JIT allocator.
            ///
            /// # Panics
            /// If the thunk cannot be created; see [`try_with_thunk`](Self::try_with_thunk).
            #[inline]
            #[track_caller]
            pub fn with_thunk<T>(thunk: T) -> Self
            where
                T: $thunk<B> + ToBoxedDyn<S>,
            {
                Self::with_thunk_in(thunk, GlobalJitAlloc)
            }

            /// Fallible [`with_thunk`](Self::with_thunk).
            #[inline]
            pub fn try_with_thunk<T>(thunk: T) -> Result<Self, ThunkError>
            where
                T: $thunk<B> + ToBoxedDyn<S>,
            {
                Self::try_with_thunk_in(thunk, GlobalJitAlloc)
            }

            shorthands::all_cc_shorthands!(global $thunk);
        }

        impl<B: FnPtr, S: ?Sized, U: ?Sized, A: JitAlloc> From<$any<B, S, A>> for $untyped<U, A>
        where
            PhantomData<S>: ToBoxedDyn<U>,
        {
            fn from(value: $any<B, S, A>) -> Self {
                value.untyped.upcast()
            }
        }
    };
}

bare_fn_family! {
    family: "FnOnce",
    untyped: UntypedBareFnOnce,
    any: BareFnOnceAny,
    alias: BareFnOnce,
    sync_alias: BareFnOnceSync = dyn Send + 'a,
    thunk: FnOnceThunk::THUNK_TEMPLATE_ONCE,
    once: true,
    send_bound: [Send],
    sync_bound: [Send],
    calls: "Call it at most once: a second call is detected and aborts the process \
        (zero-sized closures without drop glue excepted: they are conjured again).",
}

bare_fn_family! {
    family: "FnMut",
    untyped: UntypedBareFnMut,
    any: BareFnMutAny,
    alias: BareFnMut,
    sync_alias: BareFnMutSync = dyn Send + 'a,
    thunk: FnMutThunk::THUNK_TEMPLATE_MUT,
    once: false,
    send_bound: [Send],
    sync_bound: [Send],
    calls: "Never call it concurrently or re-entrantly.",
}

bare_fn_family! {
    family: "Fn",
    untyped: UntypedBareFn,
    any: BareFnAny,
    alias: BareFn,
    sync_alias: BareFnSync = dyn Send + Sync + 'a,
    thunk: FnThunk::THUNK_TEMPLATE,
    once: false,
    send_bound: [Send],
    sync_bound: [Sync],
    calls: "",
}

// ---- FnMut / Fn: repeated calls, plain drop ----------------------------------------------

macro_rules! drop_intact {
    ($untyped:ident) => {
        impl<S: ?Sized, A: JitAlloc> Drop for $untyped<S, A> {
            fn drop(&mut self) {
                // SAFETY: dropped once, intact (Fn/FnMut calls never move it out). The thunk
                // memory is released afterwards, when the `thunk` field is dropped.
                unsafe { self.storage.drop_and_free() };
            }
        }
    };
}

drop_intact!(UntypedBareFnMut);
drop_intact!(UntypedBareFn);

// ---- FnOnce: one call, detected second calls, self-freeing hand-off ----------------------

impl<S: ?Sized, A: JitAlloc> UntypedBareFnOnce<S, A> {
    /// Hands out the thunk pointer and gives up ownership.
    ///
    /// # When memory is released
    /// The closure's storage and the thunk's executable memory are released **during the
    /// one call**, after the closure has been moved onto the stack and before its body runs
    /// (execution has already left the thunk's memory by then). If the pointer is never
    /// called, nothing is released (as with [`leak`](Self::leak)). A zero-sized closure has
    /// nothing to release.
    #[inline]
    pub fn into_bare(self) -> *const ()
    where
        A: 'static,
    {
        let entry = self.thunk.entry;
        let header = self.thunk.once_header;
        if header.is_null() {
            // Conjured (zero-sized, no drop glue): nothing was allocated; nothing to free.
            core::mem::forget(self);
            return entry.cast();
        }
        /// Drops a boxed owner from inside the call (see `OnceHeader::take`).
        unsafe fn release<S: ?Sized, A: JitAlloc>(ctx: *mut u8) {
            // SAFETY: `ctx` is the `Box<UntypedBareFnOnce<S, A>>` leaked below; the state is
            // TAKEN, so `Drop` frees the closure's box without dropping the closure.
            drop(unsafe { Box::from_raw(ctx.cast::<UntypedBareFnOnce<S, A>>()) });
        }
        let owner = Box::into_raw(Box::new(self));
        // SAFETY: the header is live (owned by `owner`) and the pointer not yet handed out.
        unsafe { OnceHeader::arm_release(header, release::<S, A>, owner.cast()) };
        entry.cast()
    }
}

impl<B: FnPtr, S: ?Sized, A: JitAlloc> BareFnOnceAny<B, S, A> {
    /// Hands out the bare function pointer and gives up ownership: the closure and the
    /// thunk's executable memory are released during the single call, before the closure
    /// body runs (see [`UntypedBareFnOnce::into_bare`]). Never called, never released.
    #[inline]
    pub fn into_bare(self) -> B
    where
        A: 'static,
    {
        let ptr = self.untyped.into_bare();
        // SAFETY: the thunk has signature `B`.
        unsafe { B::from_ptr(ptr) }
    }
}

impl<S: ?Sized, A: JitAlloc> Drop for UntypedBareFnOnce<S, A> {
    fn drop(&mut self) {
        let header = self.thunk.once_header;
        // SAFETY: the header (if any) lives in the thunk memory, released only after this
        // body when the `thunk` field is dropped.
        if !header.is_null() && unsafe { OnceHeader::is_taken(header) } {
            // SAFETY: the call moved the closure out: free its block without dropping it.
            unsafe { self.storage.free_without_drop() };
        } else {
            // SAFETY: never called (or conjured): the closure is intact; dropped once.
            unsafe { self.storage.drop_and_free() };
        }
    }
}
