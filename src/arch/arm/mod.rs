//! The 32-bit Arm family (ARMv7-A: A32 and T32/Thumb-2): stub constants, the relocator and
//! the native backend.
//!
//! One build uses one instruction set for all of its Rust code: A32 on
//! `armv7-unknown-linux-gnueabihf`, T32 on `thumbv7neon-unknown-linux-gnueabihf` (`build.rs`
//! sets `cfg(closure_ffi_thumb)` for targets whose name starts with `thumb`: stable Rust sets
//! no `target_feature = "thumb-mode"`). [`Mode`] says which one a relocation is for.
//!
//! # The stub
//!
//! Both sets use the same shape, 28 bytes: the placeholder is a `movw`/`movt` pair (an
//! immediate, like x86's `mov`, so the template's own stub needs no literal and no
//! alignment), a branch over the magic, and the magic.
//!
//! ```text
//!  A32                                       T32 (halfwords, first one first)
//!  +0   E30p A640 | movw p, #0xa640          F24A 6p40  movw p, #0xa640
//!  +4   E34C p1F5 | movt p, #0xc1f5          F2CC 1pF5  movt p, #0xc1f5
//!  +8   EA000003    b    +28                 F000 B808  b.w  +28
//!  +12  E7FC1FF5 E7F7ABF0 E7F0C1FF E7FA64F0  F7FC A1F5  F7F7 AAB0  F7F0 AC1F  F7FA A640
//!       udf #0xc1f5 #0x7ab0 #0x0c1f #0xa640  udf.w #0xc1f5 #0x7ab0 #0x0c1f #0xa640
//!  +28  (continuation)
//! ```
//!
//! `p` is the template's `out(reg)` operand (`Rd` in bits 12..16 of the A32 words and bits
//! 8..12 of the second T32 halfwords). The magic is four *permanently undefined* words (`UDF`
//! in A32, `UDF.W` in T32) that no compiler emits four of in a row; LLVM's trap is a
//! single `udf #254` (A32) or `udf #254` (T32, 16-bit).
//!
//! In a thunk's copy the relocator replaces the stub with a literal load and an
//! interworking jump back, so the copy needs no scratch register and reaches the template
//! at any distance:
//!
//! ```text
//!  A32                                       T32
//!  relocated prologue ...                    relocated prologue ...
//!  ldr  p,  [pc, #slot]                      ldr.w p,  [pc, #slot]
//!  ldr  pc, [pc, #continuation]              ldr.w pc, [pc, #continuation]
//!                                            (udf #0 to a 4-byte boundary)
//!  u32 closure slot, continuation, literals  u32 closure slot, continuation | 1, literals
//! ```
//!
//! A load into `pc` is an interworking branch on ARMv7 (bit 0 selects T32), so the T32
//! continuation literal has bit 0 set. A T32 function pointer has bit 0 set too:
//! The native backend clears it to find the template's code and sets it on the thunk's address.
//!
//! [`reloc`] documents how each PC-relative instruction of the prologue is moved.

pub mod aapcs32;
#[cfg(target_arch = "arm")]
pub(crate) mod dyncall;
pub mod reloc;

#[cfg(target_arch = "arm")]
pub(crate) mod native;

/// The instruction set of a template (and of its copy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A32 (`armv7-*` targets): 4-byte instructions, `PC` reads as the address + 8.
    Arm,
    /// T32 / Thumb-2 (`thumbv7*` targets): 2- or 4-byte instructions, `PC` reads as the
    /// address + 4 (and literal loads use it rounded down to 4).
    Thumb,
}

/// The stub placeholder (loaded by the template's own stub, which never uses it).
pub const PLACEHOLDER_32: u32 = 0xC1F5_A640;

/// The immediates of the four `UDF` instructions of the magic, in order.
pub const MAGIC_IMMEDIATES: [u16; 4] = [0xC1F5, 0x7AB0, 0x0C1F, 0xA640];

/// `udf #imm16` (A32, encoding A1: `1110 0111 1111 imm12 1111 imm4`).
const fn udf_a32(imm: u16) -> u32 {
    0xE7F0_00F0 | ((imm as u32 >> 4) << 8) | (imm as u32 & 0xF)
}

/// `udf.w #imm16` (T32, encoding T2) as its two halfwords.
const fn udf_t32(imm: u16) -> [u16; 2] {
    [0xF7F0 | (imm >> 12), 0xA000 | (imm & 0xFFF)]
}

/// The 16-byte marker that follows every A32 stub.
pub const MAGIC_A32: [u8; 16] = {
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 4 {
        let b = udf_a32(MAGIC_IMMEDIATES[i]).to_le_bytes();
        out[4 * i] = b[0];
        out[4 * i + 1] = b[1];
        out[4 * i + 2] = b[2];
        out[4 * i + 3] = b[3];
        i += 1;
    }
    out
};

/// The 16-byte marker that follows every T32 stub.
pub const MAGIC_T32: [u8; 16] = {
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 4 {
        let hw = udf_t32(MAGIC_IMMEDIATES[i]);
        let a = hw[0].to_le_bytes();
        let b = hw[1].to_le_bytes();
        out[4 * i] = a[0];
        out[4 * i + 1] = a[1];
        out[4 * i + 2] = b[0];
        out[4 * i + 3] = b[1];
        i += 1;
    }
    out
};

/// `movw r0, #0xa640` (A32, encoding A2; `Rd` in bits 12..16).
pub const STUB_MOVW_A32: u32 = 0xE30A_0640;
/// `movt r0, #0xc1f5` (A32).
pub const STUB_MOVT_A32: u32 = 0xE34C_01F5;
/// `b +28` from the stub's start (A32: `PC` = +16, imm24 = 3).
pub const STUB_B_A32: u32 = 0xEA00_0003;

/// `movw r0, #0xa640` (T32, encoding T3; `Rd` in bits 8..12 of the second halfword).
pub const STUB_MOVW_T32: [u16; 2] = [0xF24A, 0x6040];
/// `movt r0, #0xc1f5` (T32).
pub const STUB_MOVT_T32: [u16; 2] = [0xF2CC, 0x10F5];
/// `b.w +28` from the stub's start (T32 encoding T4: `PC` = +12, offset 16).
pub const STUB_B_T32: [u16; 2] = [0xF000, 0xB808];

/// Length of the stub from its `movw` to the end of the magic (both sets).
pub const STUB_LEN: usize = 28;

/// The magic of `mode`.
pub const fn magic(mode: Mode) -> &'static [u8; 16] {
    match mode {
        Mode::Arm => &MAGIC_A32,
        Mode::Thumb => &MAGIC_T32,
    }
}

const _: () = {
    assert!(PLACEHOLDER_32 & 0xFFFF == 0xA640 && PLACEHOLDER_32 >> 16 == 0xC1F5);
    // The stub words carry the placeholder halves (imm4:imm12 / i:imm4:imm3:imm8).
    assert!(((STUB_MOVW_A32 >> 4) & 0xF000) | (STUB_MOVW_A32 & 0xFFF) == 0xA640);
    assert!(((STUB_MOVT_A32 >> 4) & 0xF000) | (STUB_MOVT_A32 & 0xFFF) == 0xC1F5);
};
