//! [`ThreadJitAlloc`]: a per-thread instance of the default allocator (as in closure-ffi 5.x).

use core::marker::PhantomData;

use super::{JitAlloc, JitAllocError, PoolJitAlloc};

std::thread_local! {
    static POOL: PoolJitAlloc = PoolJitAlloc::new();
}

/// A handle to this thread's own [`PoolJitAlloc`]: no memory is shared with other threads'
/// instances.
///
/// Neither `Send` nor `Sync`: a thunk allocated with it must be dropped on the thread that
/// made it (the type system enforces this for `BareFn*` owners that hold the handle).
/// Allocation fails with [`JitAllocError`] while the thread is being torn down.
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadJitAlloc(PhantomData<*const ()>);

impl ThreadJitAlloc {
    /// A handle to the calling thread's allocator.
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl JitAlloc for ThreadJitAlloc {
    #[inline]
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        POOL.try_with(|pool| pool.alloc(size))
            .unwrap_or(Err(JitAllocError))
    }

    #[inline]
    unsafe fn release(&self, rx: *const u8) -> Result<(), JitAllocError> {
        // SAFETY: forwarded contract; the handle is !Send, so `rx` came from this thread's
        // instance.
        POOL.try_with(|pool| unsafe { pool.release(rx) })
            .unwrap_or(Err(JitAllocError))
    }
}

#[cfg(all(
    test,
    any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm")
))]
mod tests {
    use super::*;

    #[test]
    fn allocates_and_releases_on_this_thread() {
        let alloc = ThreadJitAlloc::new();
        let (rx, rw) = alloc.alloc(16).expect("alloc");
        // lea rax, [rdi + rsi]; ret
        #[cfg(target_arch = "x86_64")]
        let code = [0x48, 0x8D, 0x04, 0x37, 0xC3];
        // add x0, x0, x1; ret
        #[cfg(target_arch = "aarch64")]
        let code = [0x00, 0x00, 0x01, 0x8B, 0xC0, 0x03, 0x5F, 0xD6];
        // A32 (bit 0 clear: `blx` enters it from T32 builds too): adds r0, r0, r2;
        // adc r1, r1, r3; bx lr (u64 pairs r1:r0 and r3:r2).
        #[cfg(target_arch = "arm")]
        let code = [
            0x02, 0x00, 0x90, 0xE0, 0x03, 0x10, 0xA1, 0xE0, 0x1E, 0xFF, 0x2F, 0xE1,
        ];
        // SAFETY: `rw` is the writable view of at least 16 fresh bytes.
        unsafe {
            core::ptr::copy_nonoverlapping(code.as_ptr(), rw, code.len());
            alloc.flush_instruction_cache(rx, code.len());
        }
        // System V explicitly on x86_64: the code reads rdi and rsi, and "C" is Win64 on
        // Windows.
        #[cfg(target_arch = "x86_64")]
        type AddFn = extern "sysv64" fn(u64, u64) -> u64;
        #[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
        type AddFn = extern "C" fn(u64, u64) -> u64;
        // SAFETY: the code above is a complete `AddFn`.
        let f: AddFn = unsafe { core::mem::transmute::<*const u8, AddFn>(rx) };
        assert_eq!(f(40, 2), 42);
        // SAFETY: allocated above on this thread, released once.
        unsafe { alloc.release(rx) }.expect("release");
    }
}
