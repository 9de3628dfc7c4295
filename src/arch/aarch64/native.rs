//! The AArch64 native backend: the stub, template preparation and I-cache maintenance.

use super::{reloc, MAGIC};
use crate::thunk::{PreparedTemplate, RelocError};

/// Loads the closure pointer into `$ptr` (see [`crate::arch::aarch64`] for the layout).
///
/// In: nothing. Out: `$ptr` = placeholder (template) or closure pointer (thunk copy).
/// Clobbers: x16 (declared so that the thunk copy may jump back through it; the template's
/// own stub leaves it alone); flags preserved; no stack use.
#[doc(hidden)]
#[macro_export]
macro_rules! __closure_ffi_thunk_stub {
    ($ptr:ident) => {
        ::core::arch::asm!(
            // 58000040 | p: LDR (literal) of the 8 bytes at +8; in copies, of the closure
            // slot in the copy's pool.
            "ldr {p}, 3f",
            // 14000007: skip the literal and the magic; copies jump back to label 4 of the
            // template instead.
            "b 4f",
            "3:",
            ".quad {ph}",
            // The magic: udf #0xc1f5, udf #0x7ab0, udf #0x0c1f, udf #0xa640 (permanently
            // undefined encodings).
            ".inst 0x0000c1f5, 0x00007ab0, 0x00000c1f, 0x0000a640",
            "4:",
            p = out(reg) $ptr,
            ph = const $crate::__private::PLACEHOLDER,
            out("x16") _,
            options(nostack, preserves_flags),
        )
    };
}

/// The stub placeholder, used by the macro.
pub const PLACEHOLDER: usize = super::PLACEHOLDER_64 as usize;

/// Finds the stub of the template at `entry` and relocates its prologue.
///
/// # Safety
/// `entry` must be the address of a thunk template that contains the stub.
pub(crate) unsafe fn prepare(entry: *const u8) -> Result<PreparedTemplate, RelocError> {
    // SAFETY: forwarded from the caller: `entry` is a thunk template.
    let magic_off =
        unsafe { crate::arch::find_magic(entry, &MAGIC) }.ok_or(RelocError::StubNotFound)?;
    let len = magic_off + MAGIC.len();
    // SAFETY: the template is readable from its entry to the end of its magic.
    let code = unsafe { core::slice::from_raw_parts(entry, len) };
    reloc::relocate(code, entry as u64)
}

/// Makes `rx..rx + len` visible to instruction fetch after it was written (through any
/// mapping of the same memory): clean the data cache to the point of unification, invalidate
/// the instruction cache, then synchronise.
///
/// Line sizes come from `CTR_EL0` (readable at EL0 on Linux). Both loops run even when
/// `CTR_EL0.IDC`/`DIC` say they could be skipped: emulators such as qemu-user rely on the
/// `IC IVAU` to drop translations of rewritten code, and thunks are small.
pub(crate) fn flush_icache(rx: *const u8, len: usize) {
    if len == 0 {
        return;
    }
    let ctr: u64;
    // SAFETY: reads a system register that Linux exposes to EL0 (or emulates); no memory,
    // stack or flags involved.
    unsafe {
        core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags));
    }
    let dline = 4usize << ((ctr >> 16) & 0xF);
    let iline = 4usize << (ctr & 0xF);
    let start = rx as usize;
    let end = start + len;
    let mut addr = start & !(dline - 1);
    while addr < end {
        // SAFETY: cache maintenance by virtual address on memory we own (mapped: the caller
        // just wrote it); it does not change the memory's contents.
        unsafe { core::arch::asm!("dc cvau, {}", in(reg) addr, options(nostack, preserves_flags)) };
        addr += dline;
    }
    // SAFETY: a barrier; no operands.
    unsafe { core::arch::asm!("dsb ish", options(nostack, preserves_flags)) };
    let mut addr = start & !(iline - 1);
    while addr < end {
        // SAFETY: as for `dc cvau` above.
        unsafe { core::arch::asm!("ic ivau, {}", in(reg) addr, options(nostack, preserves_flags)) };
        addr += iline;
    }
    // SAFETY: barriers; no operands.
    unsafe { core::arch::asm!("dsb ish", "isb", options(nostack, preserves_flags)) };
}

/// The code address of a function pointer (identity on AArch64).
#[inline(always)]
pub(crate) fn code_address(fn_ptr: *const u8) -> *const u8 {
    fn_ptr
}

/// The function pointer for code at `rx` (identity on AArch64).
#[inline(always)]
pub(crate) fn thunk_address(rx: *const u8) -> *const u8 {
    rx
}
