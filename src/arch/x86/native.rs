//! The x86 native backend (i686 and x86_64): the stub, template preparation and I-cache
//! flush. Both widths share it; they differ only in the placeholder's width and the
//! relocator mode.

use super::{reloc, MAGIC};
use crate::thunk::{PreparedTemplate, RelocError};

/// Loads the closure pointer into `$ptr` (see [`crate::arch::x86`] for the layout).
///
/// In: nothing. Out: `$ptr` = placeholder (template) or closure pointer (thunk copy).
/// Clobbers: nothing else; flags preserved; no stack use.
#[doc(hidden)]
#[macro_export]
macro_rules! __closure_ffi_thunk_stub {
    ($ptr:ident) => {
        ::core::arch::asm!(
            // B8+r imm32 (i686) / REX.W B8+r imm64 (x86_64, `movabs`: the placeholder does
            // not fit a sign-extended imm32): patched with the closure pointer in copies.
            "mov {p}, {ph}",
            // EB 10: skip the magic; copies jump back to label 2 of the template instead.
            "jmp 2f",
            // The magic: 15 x LOCK + NOP, an invalid instruction at every offset.
            ".byte 0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0xf0,0x90",
            "2:",
            p = out(reg) $ptr,
            ph = const $crate::__private::PLACEHOLDER,
            options(nostack, preserves_flags),
        )
    };
}

/// The stub placeholder for this target's pointer width, used by the macro.
#[cfg(target_pointer_width = "64")]
pub const PLACEHOLDER: usize = super::PLACEHOLDER_64 as usize;
/// The stub placeholder for this target's pointer width, used by the macro.
#[cfg(target_pointer_width = "32")]
pub const PLACEHOLDER: usize = super::PLACEHOLDER_32 as usize;

#[cfg(target_pointer_width = "64")]
const BITS: reloc::Bits = reloc::Bits::B64;
#[cfg(target_pointer_width = "32")]
const BITS: reloc::Bits = reloc::Bits::B32;

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
    let peek = |addr: u64| {
        // SAFETY: only called for targets of `call rel32` in the template's prologue, which
        // are functions of this process (mapped, readable code).
        Some(unsafe { (addr as usize as *const [u8; 4]).read_unaligned() })
    };
    reloc::relocate(BITS, code, entry as u64, &peek)
}

/// Instruction fetch on x86 is coherent with data writes: nothing to flush.
#[inline(always)]
pub(crate) fn flush_icache(_rx: *const u8, _len: usize) {}

/// The code address of a function pointer (identity on x86).
#[inline(always)]
pub(crate) fn code_address(fn_ptr: *const u8) -> *const u8 {
    fn_ptr
}

/// The function pointer for code at `rx` (identity on x86).
#[inline(always)]
pub(crate) fn thunk_address(rx: *const u8) -> *const u8 {
    rx
}
