//! [`GlobalJitAlloc`]: the allocator behind the constructors without an `_in` suffix, and
//! the [`global_jit_alloc!`](crate::global_jit_alloc) macro that provides it when the
//! built-in one is off.

use super::{JitAlloc, JitAllocError, ProtectJitAccess};

/// The global JIT allocator: a zero-sized handle to the process-wide allocator.
///
/// With feature `default_jit_alloc` it is the built-in [`PoolJitAlloc`](super::PoolJitAlloc).
/// Without it (feature `global_jit_alloc` only), the program provides one with
/// [`global_jit_alloc!`](crate::global_jit_alloc); linking fails if none is provided.
#[derive(Debug, Default, Clone, Copy)]
pub struct GlobalJitAlloc;

#[cfg(not(feature = "default_jit_alloc"))]
extern "Rust" {
    // Defined by `global_jit_alloc!` in the final program.
    fn __closure_ffi_6_global_jit_alloc() -> &'static (dyn JitAlloc + Sync);
}

impl GlobalJitAlloc {
    #[inline(always)]
    fn get(&self) -> &'static (dyn JitAlloc + Sync) {
        #[cfg(feature = "default_jit_alloc")]
        {
            super::pool::global()
        }
        #[cfg(not(feature = "default_jit_alloc"))]
        // SAFETY: the symbol is defined by `global_jit_alloc!`, whose expansion has exactly
        // this signature; it takes no arguments and returns a `'static` reference.
        unsafe {
            __closure_ffi_6_global_jit_alloc()
        }
    }
}

impl JitAlloc for GlobalJitAlloc {
    #[inline(always)]
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        self.get().alloc(size)
    }

    #[inline(always)]
    unsafe fn release(&self, rx: *const u8) -> Result<(), JitAllocError> {
        // SAFETY: forwarded contract; every GlobalJitAlloc handle is the same allocator.
        unsafe { self.get().release(rx) }
    }

    #[inline(always)]
    unsafe fn protect_jit_memory(&self, ptr: *const u8, size: usize, access: ProtectJitAccess) {
        // SAFETY: forwarded contract.
        unsafe { self.get().protect_jit_memory(ptr, size, access) }
    }

    #[inline(always)]
    unsafe fn flush_instruction_cache(&self, rx: *const u8, size: usize) {
        // SAFETY: forwarded contract.
        unsafe { self.get().flush_instruction_cache(rx, size) }
    }
}

/// Defines the allocator behind [`GlobalJitAlloc`] when feature `default_jit_alloc` is off.
///
/// Two forms, as in closure-ffi 5.x:
///
/// ```ignore
/// static MY_ALLOC: MyAlloc = MyAlloc::new();
/// closure_ffi::global_jit_alloc!(MY_ALLOC);
/// // or, with an expression that yields a `&'static (impl JitAlloc + Sync)`:
/// closure_ffi::global_jit_alloc!(unsafe { &*core::ptr::addr_of!(MY_ALLOC) });
/// ```
///
/// With `default_jit_alloc` on, the built-in allocator is used and the macro expands to
/// nothing (closure-ffi 5.1 behaves the same way).
#[cfg(not(feature = "default_jit_alloc"))]
#[macro_export]
macro_rules! global_jit_alloc {
    (unsafe $body:block) => {
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        extern "Rust" fn __closure_ffi_6_global_jit_alloc(
        ) -> &'static (dyn $crate::JitAlloc + ::core::marker::Sync) {
            // SAFETY: the `unsafe` form is the user's assertion that `$body` is sound; the
            // macro only forwards it.
            unsafe { $body }
        }
    };
    ($static:path) => {
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        extern "Rust" fn __closure_ffi_6_global_jit_alloc(
        ) -> &'static (dyn $crate::JitAlloc + ::core::marker::Sync) {
            &$static
        }
    };
}

/// Defines the allocator behind [`GlobalJitAlloc`]. With feature `default_jit_alloc` on, the
/// built-in allocator is used and this expands to nothing (as in closure-ffi 5.1).
#[cfg(feature = "default_jit_alloc")]
#[macro_export]
macro_rules! global_jit_alloc {
    (unsafe $body:block) => {};
    ($static:path) => {};
}
