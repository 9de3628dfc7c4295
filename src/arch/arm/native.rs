//! The 32-bit Arm native backend: the stub (A32 or T32, the build's instruction set),
//! template preparation, I-cache maintenance and the Thumb bit of function pointers.

use super::{magic, reloc, Mode};
use crate::thunk::{PreparedTemplate, RelocError};

/// The instruction set this build's Rust code is compiled to.
#[cfg(not(closure_ffi_thumb))]
pub(crate) const MODE: Mode = Mode::Arm;
/// The instruction set this build's Rust code is compiled to.
#[cfg(closure_ffi_thumb)]
pub(crate) const MODE: Mode = Mode::Thumb;

/// Loads the closure pointer into `$ptr` (see [`crate::arch::arm`] for the layout). A32 form.
///
/// In: nothing. Out: `$ptr` = placeholder (template) or closure pointer (thunk copy).
/// Clobbers: nothing else; flags preserved; no stack use.
#[cfg(not(closure_ffi_thumb))]
#[doc(hidden)]
#[macro_export]
macro_rules! __closure_ffi_thunk_stub {
    ($ptr:ident) => {
        ::core::arch::asm!(
            // E30p0640 | imm: movw p, #0xa640 (A2: imm4 = 0xa, imm12 = 0x640).
            "movw {p}, #{lo}",
            // E34p01F5 | imm: movt p, #0xc1f5. Copies load the closure pointer instead.
            "movt {p}, #{hi}",
            // EA000003: skip the magic; copies jump back to label 2 of the template instead.
            "b 2f",
            // The magic: udf #0xc1f5, #0x7ab0, #0x0c1f, #0xa640 (permanently undefined).
            ".inst 0xe7fc1ff5, 0xe7f7abf0, 0xe7f0c1ff, 0xe7fa64f0",
            "2:",
            p = out(reg) $ptr,
            lo = const $crate::__private::PLACEHOLDER & 0xFFFF,
            hi = const $crate::__private::PLACEHOLDER >> 16,
            options(nostack, preserves_flags),
        )
    };
}

/// Loads the closure pointer into `$ptr` (see [`crate::arch::arm`] for the layout). T32 form.
///
/// In: nothing. Out: `$ptr` = placeholder (template) or closure pointer (thunk copy).
/// Clobbers: nothing else; flags preserved; no stack use.
#[cfg(closure_ffi_thumb)]
#[doc(hidden)]
#[macro_export]
macro_rules! __closure_ffi_thunk_stub {
    ($ptr:ident) => {
        ::core::arch::asm!(
            // F24A 6p40: movw p, #0xa640 (T3, 32-bit).
            "movw {p}, #{lo}",
            // F2CC 1pF5: movt p, #0xc1f5. Copies load the closure pointer instead.
            "movt {p}, #{hi}",
            // F000 B808: b.w (T4) over the magic; copies jump back to label 2 instead.
            "b.w 2f",
            // The magic: udf.w #0xc1f5, #0x7ab0, #0x0c1f, #0xa640 (permanently undefined);
            // `.inst.n` halfwords, first halfword of each instruction first.
            ".inst.n 0xf7fc, 0xa1f5, 0xf7f7, 0xaab0, 0xf7f0, 0xac1f, 0xf7fa, 0xa640",
            "2:",
            p = out(reg) $ptr,
            lo = const $crate::__private::PLACEHOLDER & 0xFFFF,
            hi = const $crate::__private::PLACEHOLDER >> 16,
            options(nostack, preserves_flags),
        )
    };
}

/// The stub placeholder, used by the macro.
pub const PLACEHOLDER: usize = super::PLACEHOLDER_32 as usize;

/// Finds the stub of the template whose code starts at `entry` (bit 0 clear) and relocates
/// its prologue.
///
/// # Safety
/// `entry` must be the code address of a thunk template that contains the stub.
pub(crate) unsafe fn prepare(entry: *const u8) -> Result<PreparedTemplate, RelocError> {
    let magic = magic(MODE);
    // SAFETY: forwarded from the caller: `entry` is a thunk template.
    let magic_off =
        unsafe { crate::arch::find_magic(entry, magic) }.ok_or(RelocError::StubNotFound)?;
    let len = magic_off + magic.len();
    // SAFETY: the template is readable from its entry to the end of its magic.
    let code = unsafe { core::slice::from_raw_parts(entry, len) };
    reloc::relocate(MODE, code, entry as u64)
}

extern "C" {
    /// libgcc / compiler-rt: makes `start..end` coherent for instruction fetch. On Linux it
    /// is the ARM-private `cacheflush` system call (`__ARM_NR_cacheflush`, 0xf0002): the
    /// kernel cleans the D-cache and invalidates the I-cache by address (user mode on ARMv7
    /// has no cache maintenance instructions of its own).
    fn __clear_cache(start: *mut core::ffi::c_char, end: *mut core::ffi::c_char);
}

/// Makes `rx..rx + len` visible to instruction fetch after it was written (through any
/// mapping of the same memory; the kernel maintains the caches by the `rx` addresses).
///
/// jit-allocator2's own flush does nothing on 32-bit Arm, so every thunk goes through this.
pub(crate) fn flush_icache(rx: *const u8, len: usize) {
    if len == 0 {
        return;
    }
    let start = rx.cast_mut().cast::<core::ffi::c_char>();
    // SAFETY: cache maintenance on a range of our own mapped memory (the caller just wrote
    // it); it does not change the memory's contents. `end` is one past the range.
    unsafe { __clear_cache(start, start.wrapping_add(len)) };
}

/// The code address of a function pointer: bit 0 (the T32 interworking bit) cleared.
#[inline(always)]
pub(crate) fn code_address(fn_ptr: *const u8) -> *const u8 {
    fn_ptr.map_addr(|a| a & !1)
}

/// The function pointer for code at `rx`: with bit 0 set when the code is T32.
#[inline(always)]
pub(crate) fn thunk_address(rx: *const u8) -> *const u8 {
    match MODE {
        Mode::Arm => rx,
        Mode::Thumb => rx.wrapping_add(1),
    }
}
