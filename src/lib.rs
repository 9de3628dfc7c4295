//! # closure-ffi
//!
//! Turns Rust closures into bare `unsafe extern "<abi>" fn(..) -> R` pointers: for C APIs
//! that take a callback without a `void *user_data`, and for function hooks.
//!
//! ```
//! use closure_ffi::BareFnMut;
//!
//! // A C-style API that takes a callback with no context pointer.
//! unsafe extern "C" fn apply(cb: unsafe extern "C" fn(u32) -> u32, x: u32) -> u32 {
//!     unsafe { cb(x) }
//! }
//!
//! let mut calls = 0;
//! let offset = 10;
//! let wrapped = BareFnMut::new_c(|x: u32| {
//!     calls += 1;
//!     x + offset
//! });
//! let bare: unsafe extern "C" fn(u32) -> u32 = wrapped.bare();
//! assert_eq!(unsafe { apply(bare, 5) }, 15);
//! assert_eq!(unsafe { apply(bare, 7) }, 17);
//! drop(wrapped);
//! assert_eq!(calls, 2);
//! ```
//!
//! The owners are [`BareFn`], [`BareFnMut`] and [`BareFnOnce`] (with `*Sync` forms for
//! closures called from other threads, `*Any` forms generic over the erasure type, and
//! untyped forms); calling conventions are chosen with the markers of [`cc`] or the
//! shorthand constructors (`new_c`, `new_system`, `new_win64`, `new_c_unwind`...).
//!
#![doc = include_str!("docs/callbacks.md")]
#![doc = include_str!("docs/state.md")]
#![doc = include_str!("docs/hooking.md")]
#![cfg_attr(feature = "proc_macros", doc = include_str!("docs/hrtb.md"))]
#![cfg_attr(feature = "c_variadic", doc = include_str!("docs/variadic.md"))]
#![doc = include_str!("docs/dynamic.md")]
#![doc = include_str!("docs/allocators.md")]
#![doc = include_str!("docs/no_std.md")]
#![doc = include_str!("docs/reference.md")]
#![cfg_attr(not(feature = "std"), no_std)]
// The dynamic layer's docs (docs/dynamic.md, `dynamic`) link to its executor and closures,
// which exist on x86_64, i686, aarch64 Linux and 32-bit Arm Linux only; elsewhere those links have no
// target (the docs are built and checked on x86_64).
#![cfg_attr(not(target_arch = "x86_64"), allow(rustdoc::broken_intra_doc_links))]
#![cfg_attr(feature = "c_variadic", feature(c_variadic))]

extern crate alloc;

pub mod arch;
pub mod bare_fn;
pub mod cc;
pub mod dynamic;
#[path = "jit/mod.rs"]
pub mod jit_alloc;
pub mod thunk;
pub mod thunk_factory;
pub mod traits;

#[cfg(feature = "proc_macros")]
mod hrtb;
#[cfg(feature = "proc_macros")]
#[doc(hidden)]
pub use closure_ffi_macros::bare_hrtb_impl as __bare_hrtb_impl;

pub use bare_fn::{
    BareFn, BareFnAny, BareFnMut, BareFnMutAny, BareFnMutSync, BareFnOnce, BareFnOnceAny,
    BareFnOnceSync, BareFnSync, UntypedBareFn, UntypedBareFnMut, UntypedBareFnOnce,
};
pub use jit_alloc::{JitAlloc, JitAllocError};
pub use thunk::ThunkError;

#[cfg(feature = "global_jit_alloc")]
pub use jit_alloc::GlobalJitAlloc;

/// The names most programs need.
pub mod prelude {
    pub use crate::bare_fn::{
        BareFn, BareFnAny, BareFnMut, BareFnMutAny, BareFnMutSync, BareFnOnce, BareFnOnceAny,
        BareFnOnceSync, BareFnSync, UntypedBareFn, UntypedBareFnMut, UntypedBareFnOnce,
    };
    pub use crate::cc;
    pub use crate::jit_alloc::{JitAlloc, JitAllocError};
}

/// Items used by macro expansions (`cc` templates, `bare_hrtb!`). Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::arch::native::PLACEHOLDER;
    pub use crate::dynamic::types::TypeCell;
    pub use crate::thunk::conjurable;
    pub use crate::thunk::once::OnceHeader;
}
