//! # closure-ffi
//!
//! Turns Rust closures into bare `unsafe extern "<abi>" fn(..) -> R` pointers: for C APIs
//! that take a callback without a `void *user_data`, and for function hooks.
//!
//! ```
//! use closure_ffi::BareFnMut;
//!
//! // A C-style API that stores a callback with no context pointer.
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
//! ## How it works
//! For every (calling convention, closure type, signature) the compiler monomorphizes a
//! thunk template whose first statement is a tiny `asm!` stub followed by a magic constant no
//! compiler emits. Creating a thunk finds the stub (bounded scan), relocates the template's
//! prologue once per template with the Capstone disassembler, and then copies it into
//! executable memory with the closure pointer patched in: one small allocation, one copy,
//! two stores. A call runs the copied prologue, loads the closure pointer and jumps back into
//! the template, whose body, epilogue and unwind tables are the compiler's own. A zero-sized
//! closure needs none of this: the template itself is the pointer. See
//! `docs/ARCHITECTURE.md` in the repository.
//!
//! ## Compatibility with closure-ffi 5.x
//! The public API is source-compatible, with these deliberate differences:
//! - the fallible constructors return [`ThunkError`] (which says *why*: allocation,
//!   relocation, missing stub) instead of the unit `JitAllocError`; `?` into a
//!   `JitAllocError` still works through `From`;
//! - nothing panics in library code except the non-`try_` constructors, whose panic message
//!   states the reason;
//! - `BareFnOnce` has `bare()` (a second call aborts instead of being undefined behaviour)
//!   and `into_bare()`, which frees the closure and its executable memory after the one call;
//! - shorthand constructors exist for every marker, including `-unwind` ones.
//!
//! ## Feature flags
//! | feature | default | what |
//! |---|---|---|
//! | `std` | yes | `std::error::Error` impls, thread-local caches in the default allocator |
//! | `global_jit_alloc` | yes | [`GlobalJitAlloc`] and the constructors without `_in` |
//! | `default_jit_alloc` | yes | the built-in [`PoolJitAlloc`](jit_alloc::PoolJitAlloc) behind `GlobalJitAlloc` (implies `std`) |
//! | `safe_jit` | yes | relocate prologues with Capstone (required) |
//! | `no_safe_jit` | no | accepted for compatibility; this crate always relocates, so it needs `safe_jit` |
//! | `proc_macros` | no | `bare_hrtb!` (lands with the macros issue) |
//!
//! ## Targets
//! | target | thunks | tested |
//! |---|---|---|
//! | x86_64 Linux | yes | CI, debug and release |
//! | i686 Linux | yes | CI, debug and release |
//! | other architectures | compile error (backends land with the targets issue) | |

#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(feature = "c_variadic", feature(c_variadic))]

extern crate alloc;

pub mod arch;
pub mod bare_fn;
pub mod cc;
#[path = "jit/mod.rs"]
pub mod jit_alloc;
pub mod thunk;
pub mod thunk_factory;
pub mod traits;

#[cfg(feature = "proc_macros")]
mod hrtb;

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
    pub use crate::thunk::conjurable;
    pub use crate::thunk::once::OnceHeader;
}
