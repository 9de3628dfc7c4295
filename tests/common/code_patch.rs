//! Patching this program's own code, for the hooking tests of aarch64 and 32-bit Arm (no
//! detour crate builds there; tests/hooking.rs uses retour on x86).

use std::ffi::{c_int, c_void};
use std::sync::Mutex;

extern "C" {
    fn mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int;
    /// libgcc: the `cacheflush` system call over `start..end`.
    #[cfg(target_arch = "arm")]
    fn __clear_cache(start: *mut std::ffi::c_char, end: *mut std::ffi::c_char);
}

const PROT_READ: c_int = 1;
const PROT_WRITE: c_int = 2;
const PROT_EXEC: c_int = 4;
const PAGE: usize = 4096;

/// Patches change the protection of code pages that several targets may share.
static PATCHING: Mutex<()> = Mutex::new(());

/// Writes `bytes` at `at` and makes them visible to instruction fetch; returns the bytes
/// they replaced. The pages under them are writable only for the write, and read-execute
/// again afterwards.
///
/// # Safety
/// `at..at + bytes.len()` must be code of this program (a function's entry, or a Thumb
/// function's address with bit 0 cleared) that no thread runs while it is patched, on
/// pages whose other code nothing runs meanwhile either.
pub unsafe fn patch(at: *mut u8, bytes: &[u8]) -> Vec<u8> {
    let _guard = PATCHING.lock().unwrap();
    let start = at as usize & !(PAGE - 1);
    let len = (at as usize + bytes.len()).next_multiple_of(PAGE) - start;
    let pages = start as *mut c_void;
    // SAFETY: `pages..pages + len` is mapped code of this program holding the patched bytes
    // (the caller's contract, which also keeps every thread out of it meanwhile).
    unsafe {
        assert_eq!(mprotect(pages, len, PROT_READ | PROT_WRITE | PROT_EXEC), 0);
        let old = std::slice::from_raw_parts(at, bytes.len()).to_vec();
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), at, bytes.len());
        flush(at, bytes.len());
        assert_eq!(mprotect(pages, len, PROT_READ | PROT_EXEC), 0);
        old
    }
}

/// Makes `at..at + len` visible to instruction fetch.
///
/// # Safety
/// `at..at + len` must be mapped.
unsafe fn flush(at: *mut u8, len: usize) {
    // SAFETY: the caller's contract: the range is mapped.
    #[cfg(target_arch = "arm")]
    unsafe {
        __clear_cache(at.cast(), at.add(len).cast());
    }
    // SAFETY: cache maintenance over mapped memory (the caller's contract), every 16 bytes:
    // no AArch64 cache line is smaller.
    #[cfg(target_arch = "aarch64")]
    unsafe {
        for line in ((at as usize & !15)..at as usize + len).step_by(16) {
            core::arch::asm!(
                "dc cvau, {a}",
                "dsb ish",
                "ic ivau, {a}",
                "dsb ish",
                "isb",
                a = in(reg) line,
                options(nostack, preserves_flags),
            );
        }
    }
}
