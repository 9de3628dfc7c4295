//! Executable memory: the [`JitAlloc`] trait, its error, and the global allocator.
//!
//! Every thunk's code lives in memory from a [`JitAlloc`]. The order of operations on it is
//! fixed (see [`crate::thunk`]): write through the writable view, make it executable
//! ([`JitAlloc::protect_jit_memory`]), flush the instruction cache, then hand out the
//! executable view. Allocators that provide separate views (dual mapping) never have a page
//! that is writable and executable at once.

use core::ops::Deref;

#[cfg(feature = "global_jit_alloc")]
mod global;
#[cfg(feature = "global_jit_alloc")]
pub use global::GlobalJitAlloc;

#[cfg(feature = "default_jit_alloc")]
mod pool;
#[cfg(feature = "default_jit_alloc")]
pub use pool::{PoolJitAlloc, DUAL_MAPPING_BY_DEFAULT};

#[cfg(feature = "default_jit_alloc")]
mod thread;
#[cfg(feature = "default_jit_alloc")]
pub use thread::ThreadJitAlloc;

/// An executable-memory allocation or release failed.
///
/// A unit value, as in closure-ffi 5.x, so that allocators written for it still compile
/// (`Err(JitAllocError)`). Thunk constructors report richer reasons with
/// [`ThunkError`](crate::ThunkError).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct JitAllocError;

impl core::fmt::Display for JitAllocError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("executable memory allocation failed")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for JitAllocError {}

/// The access a thread needs to JIT memory, for allocators with per-thread write protection
/// (Apple's `MAP_JIT`). Elsewhere it is a hint that may be ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ProtectJitAccess {
    /// The thread is about to write through the writable view.
    ReadWrite = 0,
    /// The thread is done writing and may execute.
    ReadExecute = 1,
}

/// An allocator of executable memory.
///
/// `alloc` returns two views of the same memory: `rx` (executable, handed out as the thunk
/// pointer) and `rw` (writable, used to write the code). They may be equal (a single RWX
/// mapping) or differ (dual mapping, W^X). Every `&T`, `Box<T>`, `Arc<T>`, `LazyLock<T>`...
/// whose target is a `JitAlloc` is one too.
pub trait JitAlloc {
    /// Allocates `size` bytes of executable memory, returning `(rx, rw)`.
    ///
    /// Both views must stay valid until `release(rx)`. Memory need not be zeroed.
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError>;

    /// Releases memory returned by [`alloc`](JitAlloc::alloc).
    ///
    /// # Safety
    /// `rx` must come from `alloc` on this allocator, must not have been released already,
    /// and no thread may execute or use the memory afterwards.
    unsafe fn release(&self, rx: *const u8) -> Result<(), JitAllocError>;

    /// Switches the calling thread's access to JIT memory (Apple `MAP_JIT`); a no-op by
    /// default.
    ///
    /// # Safety
    /// `ptr..ptr + size` must lie in memory returned by `alloc` on this allocator.
    #[inline(always)]
    unsafe fn protect_jit_memory(&self, ptr: *const u8, size: usize, access: ProtectJitAccess) {
        let _ = (ptr, size, access);
    }

    /// Makes code written at `rx..rx + size` visible to instruction fetch. The default does
    /// what the target needs (nothing on x86; on aarch64, a data-cache clean and an
    /// instruction-cache invalidate by line; on 32-bit Arm, the `cacheflush` system call
    /// through libgcc's `__clear_cache`).
    ///
    /// # Safety
    /// `rx..rx + size` must lie in memory returned by `alloc` on this allocator.
    #[inline(always)]
    unsafe fn flush_instruction_cache(&self, rx: *const u8, size: usize) {
        crate::arch::native::flush_icache(rx, size);
    }
}

/// The alignment generated code needs on Arm: 4 bytes (A32 and A64 words, and T32 code
/// addresses its literals from `Align(PC, 4)`). x86 code needs none.
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
const CODE_ALIGN: usize = 4;

/// Allocates `size` bytes of JIT memory for code from `alloc`, aligned as the target's code
/// needs (on Arm, 4 bytes): a [`JitAlloc`] promises no alignment, so a block without it is
/// released and refused as an allocation failure.
#[inline]
pub(crate) fn alloc_code<A: JitAlloc + ?Sized>(
    alloc: &A,
    size: usize,
) -> Result<(*const u8, *mut u8), JitAllocError> {
    let (rx, rw) = alloc.alloc(size)?;
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    if rx as usize % CODE_ALIGN != 0 {
        // SAFETY: just allocated by `alloc`, never handed out, released once.
        let _ = unsafe { alloc.release(rx) };
        return Err(JitAllocError);
    }
    Ok((rx, rw))
}

impl<J: JitAlloc + ?Sized, D: Deref<Target = J>> JitAlloc for D {
    #[inline(always)]
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        (**self).alloc(size)
    }

    #[inline(always)]
    unsafe fn release(&self, rx: *const u8) -> Result<(), JitAllocError> {
        // SAFETY: forwarded contract.
        unsafe { (**self).release(rx) }
    }

    #[inline(always)]
    unsafe fn protect_jit_memory(&self, ptr: *const u8, size: usize, access: ProtectJitAccess) {
        // SAFETY: forwarded contract.
        unsafe { (**self).protect_jit_memory(ptr, size, access) }
    }

    #[inline(always)]
    unsafe fn flush_instruction_cache(&self, rx: *const u8, size: usize) {
        // SAFETY: forwarded contract.
        unsafe { (**self).flush_instruction_cache(rx, size) }
    }
}
