//! The x86 family (i686 and x86_64): stub constants, the relocator and the native backend,
//! each shared by both widths.
//!
//! # The stub
//!
//! ```text
//!  x86_64                                   i686
//!  48 B8+r <imm64 placeholder>  movabs r,   B8+r <imm32 placeholder>  mov r, imm32
//!  EB 10                        jmp 1f      EB 10                     jmp 1f
//!  F0 x15 90                    magic (16)  F0 x15 90                 magic (16)
//!  1: (continuation)                        1: (continuation)
//! ```
//!
//! The magic is fifteen `LOCK` prefixes followed by `NOP`: whatever byte decoding starts at,
//! it is an instruction longer than 15 bytes or a `LOCK` on a non-memory instruction, both
//! `#UD`, so a compiler never emits it. In a thunk's copy the relocator replaces the short
//! jump by a jump to the continuation in the original template, and drops the magic.
//!
//! # The dynamic layer
//!
//! Classifiers, host-independent: `sysv64` and `win64` (x86_64), `i386` (libffi's i386
//! set). `jitcall` emits x86_64 code from a plan. The executor of the target is mounted as
//! `dyncall`: `dyncall/` on x86_64, `dyncall32/` on 32-bit x86 Unix (no compiled code).

pub mod reloc;

#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
pub(crate) mod native;

/// The 16-byte marker that follows every x86 stub.
pub const MAGIC: [u8; 16] = [
    0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0xF0, 0x90,
];

/// Placeholder immediate of the x86_64 stub's `movabs` (patched with the closure pointer).
pub const PLACEHOLDER_64: u64 = 0xC1F5_7AB0_0C1F_5AB0;

/// Placeholder immediate of the i686 stub's `mov r32, imm32` (patched with the closure pointer).
pub const PLACEHOLDER_32: u32 = 0xC1F5_7AB0;

pub mod i386;
pub mod sysv64;
pub mod win64;

/// Defines a global function in assembly, `asm_function!("name", [template strings,] operands)`,
/// with the directives debuggers and profilers need (type, CFI start and end, size).
///
/// ELF version: `.type name,@function` and `.size`.
#[cfg(all(not(windows), any(target_arch = "x86_64", target_arch = "x86")))]
macro_rules! asm_function {
    ($name:literal, [$($body:tt)*] $(, $($operands:tt)*)?) => {
        core::arch::global_asm!(
            ".text",
            ".p2align 4",
            concat!(".globl ", $name),
            concat!(".type ", $name, ",@function"),
            concat!($name, ":"),
            ".cfi_startproc",
            $($body)*
            ".cfi_endproc",
            concat!(".size ", $name, ", . - ", $name),
            $($($operands)*)?
        );
    };
}

/// Defines a global function in assembly (see the ELF version above).
///
/// COFF version: a symbol's type is given by `.def name; .scl 2; .type 32; .endef` (storage
/// class 2 = external, type 32 = function); COFF has no `.size`. C symbols carry a leading
/// underscore on i686 Windows (`coff_prefix!`), so the label there is `_name`, which is what
/// an `extern "C"` declaration of `name` links to. The `.cfi_*` directives only produce
/// DWARF frame information (`.eh_frame`) for debuggers: Windows unwinds with SEH tables,
/// which these functions have none of, so the unwinder treats them as leaf functions.
/// Nothing unwinds through them: what they call (`marshal`, the closure callbacks) is
/// `extern` without `-unwind`, so a panic there aborts.
#[cfg(windows)]
macro_rules! asm_function {
    ($name:literal, [$($body:tt)*] $(, $($operands:tt)*)?) => {
        core::arch::global_asm!(
            ".text",
            ".p2align 4",
            concat!(".globl ", coff_prefix!(), $name),
            concat!(".def ", coff_prefix!(), $name, "; .scl 2; .type 32; .endef"),
            concat!(coff_prefix!(), $name, ":"),
            ".cfi_startproc",
            $($body)*
            ".cfi_endproc",
            $($($operands)*)?
        );
    };
}

/// The prefix of C symbols in COFF: none on x86_64, `_` on i686.
#[cfg(all(windows, target_arch = "x86_64"))]
macro_rules! coff_prefix {
    () => {
        ""
    };
}
#[cfg(all(windows, target_arch = "x86"))]
macro_rules! coff_prefix {
    () => {
        "_"
    };
}

// The executor of call plans for the target: x86_64 (System V, Win64) or i386 (libffi's
// i386 set), exporting the same items to the dynamic layer.
#[cfg(target_arch = "x86_64")]
pub(crate) mod dyncall;
#[cfg(target_arch = "x86")]
#[path = "dyncall32/mod.rs"]
pub(crate) mod dyncall;
pub mod jitcall;
