//! The AArch64 (A64) family: stub constants, the relocator and the native backend.
//!
//! # The stub
//!
//! ```text
//!  +0   58000040 | p    ldr  p, 1f          ; p = the 8-byte literal at +8 (LDR literal)
//!  +4   14000007        b    2f             ; skip the literal and the magic (+28)
//!  +8   <u64 placeholder>                   ; 1: PLACEHOLDER, the closure pointer in copies
//!  +16  0000C1F5 00007AB0 00000C1F 0000A640  ; the magic: four `udf #imm16`
//!  +32  (continuation)                      ; 2:
//! ```
//!
//! `p` is the template's `out(reg)` operand (never x16: the stub declares x16 clobbered,
//! see below). The literal sits at `stub + 8`, which is 4-byte but not necessarily 8-byte
//! aligned in the template; Linux runs EL0 with alignment checks off, so the load works.
//!
//! The magic is four A64 words whose top 16 bits are zero: `UDF #imm16`, *permanently
//! undefined* in every version of the architecture. A compiler never emits four of them in
//! a row (LLVM's trap is `brk #1`), and the scan only ever reads the template's own code.
//!
//! The stub also declares **x16 clobbered** (`out("x16") _`). The template never runs it, but
//! the compiler then keeps nothing live in x16 across the stub, so the thunk's copy may use
//! x16 (IP0) to jump back to the continuation at any distance:
//!
//! ```text
//!  relocated prologue ...
//!  ldr  p,   closure_slot     ; the stub's load, now from the copy's literal pool
//!  ldr  x16, continuation     ; entry + 32 + prologue length, in the template
//!  br   x16
//!  (udf #0 padding to 8) closure slot, continuation, other literals (u64 each)
//! ```
//!
//! [`reloc`] documents how each PC-relative instruction of the prologue is moved.
//!
//! # The dynamic layer
//!
//! [`aapcs64`] classifies signatures into plans (host-independent); `dyncall/` executes
//! them on aarch64 Linux (one call trampoline, one closure entry; no compiled form).

pub mod aapcs64;
pub mod reloc;

#[cfg(target_arch = "aarch64")]
pub(crate) mod native;

/// Defines a global function in assembly, `asm_function!("name", [template strings,] operands)`,
/// with the directives debuggers and profilers need (ELF: type, CFI start and end, size).
#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
macro_rules! asm_function {
    ($name:literal, [$($body:tt)*] $(, $($operands:tt)*)?) => {
        core::arch::global_asm!(
            ".text",
            ".p2align 4",
            concat!(".globl ", $name),
            concat!(".type ", $name, ",%function"),
            concat!($name, ":"),
            ".cfi_startproc",
            $($body)*
            ".cfi_endproc",
            concat!(".size ", $name, ", . - ", $name),
            $($($operands)*)?
        );
    };
}

/// The executor of call plans (AAPCS64 as on Linux), exporting what the dynamic layer uses
/// under the names of the x86 executors.
#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
pub(crate) mod dyncall;

/// The four `UDF` words of the magic, in order.
pub const MAGIC_WORDS: [u32; 4] = [0x0000_C1F5, 0x0000_7AB0, 0x0000_0C1F, 0x0000_A640];

/// The 16-byte marker that follows every AArch64 stub (the [`MAGIC_WORDS`], little-endian).
pub const MAGIC: [u8; 16] = {
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 4 {
        let b = MAGIC_WORDS[i].to_le_bytes();
        out[4 * i] = b[0];
        out[4 * i + 1] = b[1];
        out[4 * i + 2] = b[2];
        out[4 * i + 3] = b[3];
        i += 1;
    }
    out
};

/// The stub's literal in the template (patched with the closure pointer in copies).
pub const PLACEHOLDER_64: u64 = 0xC1F5_7AB0_0C1F_A640;

/// `ldr x0, #8` (LDR literal, 64-bit, imm19 = 2): the stub's load with `Rt` = 0.
pub const STUB_LDR: u32 = 0x5800_0040;

/// `b #28`: the stub's jump over the literal and the magic.
pub const STUB_B: u32 = 0x1400_0007;

/// Length of the stub from its `ldr` to the end of the magic.
pub const STUB_LEN: usize = 32;

/// The register the thunk copy uses to jump back (IP0; the stub declares it clobbered).
pub const SCRATCH: u32 = 16;
