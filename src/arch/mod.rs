//! Architecture backends.
//!
//! # The contract every backend meets
//!
//! Each `src/arch/<arch>/` exports, under the same names:
//!
//! - **Stub macro** `__closure_ffi_thunk_stub!(ptr)` (hidden, `#[macro_export]`): an `asm!`
//!   block placed first in every thunk template. It loads a pointer-sized placeholder
//!   (x86: an immediate; aarch64: a literal placed after the load) into `ptr`, then jumps
//!   over a 16-byte magic constant to the instruction that follows the block (the
//!   *continuation*). In the template itself this is a no-op load; in a thunk's copy, the
//!   placeholder is the closure pointer and the jump goes back into the template. A stub
//!   may declare a scratch register clobbered for the copy's jump back (aarch64: x16).
//! - **`prepare(entry) -> Result<PreparedTemplate, ThunkError>`**: find the stub from the
//!   template entry with a bounded scan, and relocate entry..stub with the family's
//!   relocator (Capstone). Called once per template; the result is cached.
//! - **`flush_icache(rx, len)`**: make freshly written code visible to instruction fetch.
//! - **`code_address(fn_ptr)` / `thunk_address(rx)`**: between function pointers and code
//!   addresses (identity on x86, aarch64 and A32; T32 function pointers have bit 0 set,
//!   which `code_address` clears and `thunk_address` sets).
//!
//! Relocators and their constants (encodings, magic, placeholders) are plain functions over
//! bytes and compile on every host, so their golden tests run on x86_64; only what reads or
//! executes native code is gated by `target_arch`. The native backend is selected in exactly
//! one place, below, and an unsupported target is a compile error.

pub mod aarch64;
pub mod arm;
pub mod x86;

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
pub(crate) use self::x86::native;

#[cfg(target_arch = "aarch64")]
pub(crate) use self::aarch64::native;

#[cfg(target_arch = "arm")]
pub(crate) use self::arm::native;

// The executor of call plans for the dynamic layer (`dyncall`), and what every executor
// shares in machine words (`marshal`).
#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
pub(crate) use self::x86::dyncall;

#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
pub(crate) use self::aarch64::dyncall;

#[cfg(all(target_arch = "arm", target_os = "linux"))]
pub(crate) use self::arm::dyncall;

#[cfg(closure_ffi_dynamic)]
pub(crate) mod marshal;

#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm"
)))]
compile_error!(
    "closure-ffi: this target architecture has no thunk backend yet (supported: x86_64, x86, \
     aarch64, arm (ARMv7-A, A32 and T32))"
);

/// Maximum number of bytes scanned from a template entry for the stub's magic constant.
///
/// Prologues are short (argument spills, callee-saved register pushes, a stack probe);
/// 4 KiB leaves room for debug builds with twelve arguments and large frames while keeping
/// the scan bounded.
pub const MAX_STUB_SCAN: usize = 4096;

/// Finds `magic` in the bytes starting at `entry`, reading at most [`MAX_STUB_SCAN`] bytes and
/// never reading a page before it needs to: the template's own code is mapped up to the
/// end of its stub, so extending the window one page at a time only touches pages of the
/// template while the stub is not yet found.
///
/// Returns the offset of the magic from `entry`.
///
/// # Safety
/// `entry` must point to the code of a thunk template (readable up to the end of its stub).
#[cfg(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm"
))]
pub(crate) unsafe fn find_magic(entry: *const u8, magic: &[u8]) -> Option<usize> {
    const PAGE: usize = 4096;
    let start = entry as usize;
    let mut end = (start + 1).next_multiple_of(PAGE).max(start + magic.len());
    loop {
        let len = end.min(start + MAX_STUB_SCAN) - start;
        // SAFETY: the window lies in pages that the template occupies up to its stub
        // (see the function docs); it grows only while the magic has not been found.
        let window = unsafe { core::slice::from_raw_parts(entry, len) };
        if let Some(pos) = window.windows(magic.len()).position(|w| w == magic) {
            return Some(pos);
        }
        if len >= MAX_STUB_SCAN {
            return None;
        }
        end += PAGE;
    }
}
