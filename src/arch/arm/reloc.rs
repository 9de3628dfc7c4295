//! The 32-bit Arm relocator (A32 and T32): makes a thunk template's prologue
//! position-independent.
//!
//! A thunk is a copy, at an arbitrary address, of its template's code from the entry through
//! the stub (see [`crate::arch::arm`]), followed by a jump back into the template.
//! [`relocate`] rewrites that range once per template; every thunk is then a `memcpy` and a
//! store of the closure pointer at [`PreparedTemplate::closure_slot`]. Every jump out of
//! the copy is absolute (a load into `pc` from the literal pool), so there are no fixups and
//! the copy may lie anywhere in the address space.
//!
//! # Output layout
//!
//! ```text
//!  +---------------------------------------------+
//!  | relocated prologue (one or more             |
//!  |   instructions per original one)            |
//!  +---------------------------------------------+
//!  | ldr(.w) p,  [pc, #closure slot]             |
//!  | ldr(.w) pc, [pc, #continuation]             |
//!  +---------------------------------------------+
//!  | udf #0 (T32 only, to a 4-byte boundary)     |
//!  +---------------------------------------------+
//!  | u32 closure slot   <- closure_slot          |
//!  | u32 continuation   (entry + code.len(),     |
//!  |                     | 1 in T32)             |
//!  | u32 literals, in order of first use         |
//!  +---------------------------------------------+
//! ```
//!
//! The copy must be placed at a 4-byte aligned address (T32 literal loads address
//! `Align(PC, 4)`; JIT allocators hand out at least 16-byte aligned blocks). Literal loads
//! reach 4095 bytes forward: a prologue that is longer after rewriting fails with
//! [`RelocError::OutOfRange`].
//!
//! # Rules
//!
//! Every prologue instruction must decode with Capstone (else [`RelocError::Decode`]); it is
//! then classified by its encoding (Arm ARM, "A32/T32 instruction set encoding") and
//! rewritten by the first rule that matches. *Inside* means a target at the start of a
//! prologue instruction or of the stub; anything else is *outside*. `lit` is a new pool
//! entry; `ip` is r12, which AAPCS lets every call clobber (so it is free at a call).
//!
//! | original | inside | outside |
//! |---|---|---|
//! | A32 `B<c>` | `B<c>`, new displacement | `ldr<c> pc, lit` |
//! | A32 `BL<c>`, `BLX` (imm) | refused (a call into the copy) | `ldr<c> ip, lit; blx<c> ip` (`lit` has bit 0 set for `BLX`) |
//! | A32 `LDR`/`LDRB`/`LDRH`/`LDRSB`/`LDRSH`/`LDRD<c> rt, [pc, #±imm]` | – | `ldr<c> rt, lit; ldr..<c> rt, [rt]` |
//! | A32 `ADD`/`SUB<c> rd, pc, #imm` (`ADR`) | – | `ldr<c> rd, lit` |
//! | A32 `PLD`/`PLI [pc, #±imm]` | – | `nop` (hints) |
//! | T32 `B` (16/32-bit) | `b.w`, new displacement | `ldr.w pc, lit` (bit 0 set) |
//! | T32 `B<c>` (16/32-bit) | `b<c>.w`, new displacement | `b<!c> +6; ldr.w pc, lit` |
//! | T32 `CBZ`/`CBNZ` | same, new displacement (forward, ≤ 126) | `cbnz`/`cbz` `+6; ldr.w pc, lit` |
//! | T32 `BL`, `BLX` (imm) | refused | `ldr.w ip, lit; blx ip` (`lit` bit 0 set for `BL`) |
//! | T32 `LDR` (16-bit), `LDR`/`LDRB`/`LDRH`/`LDRSB`/`LDRSH.W`, `LDRD` literal | – | `ldr.w rt, lit; ldr.. rt, [rt]` |
//! | T32 `ADR` (16/32-bit) | – | `ldr.w rd, lit` |
//! | T32 `PLD`/`PLI` literal | – | `nop.w` |
//! | `VLDR<c> sd/dd, [pc, #±imm]` (A32, T32) | – | `push<c> {ip}; ldr<c> ip, lit; vldr<c> sd/dd, [ip]; pop<c> {ip}` |
//!
//! Refused ([`RelocError::Unsupported`]): a literal load into `pc` or `sp` (the rewrite
//! would hold an address in `sp` for one instruction), or into an unpredictable register pair, any
//! other instruction that reads or writes `pc` (Capstone's operands and implicit registers:
//! `add rd, pc, rm`, `mov pc, lr`, `pop {.., pc}`, `tbb [pc, ..]`, ...) or that Capstone
//! puts in the jump, call or interrupt groups (`bx`, `blx rm`, `svc`, ...), a branch into the
//! stub or into the middle of an instruction, and in T32 an IT block that covers a rewritten
//! instruction or reaches into the stub. Everything else is copied verbatim.
//!
//! Every rewritten form has a length that depends only on the original instruction (and on
//! whether a branch target is inside), so the layout is one pass (old offset -> new offset)
//! and displacements are encoded in a second pass. Relocation fails closed: nothing is
//! truncated, and no input panics.

use alloc::vec::Vec;

use capstone::arch::arm::{ArchMode, ArmInsnGroup, ArmOperandType, ArmReg};
use capstone::arch::{BuildsCapstone, DetailsArchInsn};
use capstone::{Capstone, InsnDetail, RegId};

use crate::arch::arm::{
    magic, Mode, STUB_B_A32, STUB_B_T32, STUB_LEN, STUB_MOVT_A32, STUB_MOVT_T32, STUB_MOVW_A32,
    STUB_MOVW_T32,
};
use crate::thunk::{PreparedTemplate, RelocError};

/// Longest prologue (bytes before the stub) that is relocated; bounds the decoding work.
pub const MAX_PROLOGUE_LEN: usize = 4096;

/// r12 (IP), the register through which calls out of the copy go.
const IP: u32 = 12;
/// r13.
const SP: u32 = 13;
/// r15.
const PC: u32 = 15;

/// A32 `nop` (hint, `cond` = AL).
const A32_NOP: u32 = 0xE320_F000;
/// A32 `ldr r0, [pc, #+0]` (literal, U = 1; `Rt` in bits 12..16, imm12 in bits 0..12).
const A32_LDR_LIT: u32 = 0x059F_0000;
/// A32 `blx r0` (register; `Rm` in bits 0..4), without its condition.
const A32_BLX_REG: u32 = 0x012F_FF30;
/// A32 `ldr r0, [r0]` (immediate offset 0, P = 1, U = 1; `Rn` 16..20, `Rt` 12..16).
const A32_LDR_BASE: u32 = 0x0590_0000;
/// A32 `ldrb r0, [r0]`.
const A32_LDRB_BASE: u32 = 0x05D0_0000;
/// A32 `ldrh r0, [r0]` (extra load/store, immediate offset 0).
const A32_LDRH_BASE: u32 = 0x01D0_00B0;
/// A32 `ldrsb r0, [r0]`.
const A32_LDRSB_BASE: u32 = 0x01D0_00D0;
/// A32 `ldrsh r0, [r0]`.
const A32_LDRSH_BASE: u32 = 0x01D0_00F0;
/// A32 `ldrd r0, r1, [r0]`.
const A32_LDRD_BASE: u32 = 0x01C0_00D0;

/// A32 `push {ip}` (`str ip, [sp, #-4]!`), without its condition.
const A32_PUSH_IP: u32 = 0x052D_C004;
/// A32 `pop {ip}` (`ldr ip, [sp], #4`), without its condition.
const A32_POP_IP: u32 = 0x049D_C004;
/// T32 `str.w ip, [sp, #-4]!`.
const T32_PUSH_IP: [u16; 2] = [0xF84D, 0xCD04];
/// T32 `ldr.w ip, [sp], #4`.
const T32_POP_IP: [u16; 2] = [0xF85D, 0xCB04];
/// T32 `ldr.w r0, [pc, #+0]` (literal T2, U = 1): halfwords; `Rt` in bits 12..16 of the
/// second, imm12 in its bits 0..12.
const T32_LDR_LIT: [u16; 2] = [0xF8DF, 0x0000];
/// T32 `blx ip` (16-bit).
const T32_BLX_IP: u16 = 0x4780 | ((IP as u16) << 3);
/// T32 `nop.w`.
const T32_NOP_W: [u16; 2] = [0xF3AF, 0x8000];
/// T32 `udf #0` (16-bit): filler before the literal pool.
const T32_POOL_PAD: u16 = 0xDE00;
/// T32 `ldr.w r0, [r0, #0]` (T3): `Rn` in bits 0..4 of the first halfword, `Rt` in bits
/// 12..16 of the second.
const T32_LDR_BASE: u16 = 0xF8D0;
/// T32 `ldrb.w r0, [r0, #0]`.
const T32_LDRB_BASE: u16 = 0xF890;
/// T32 `ldrh.w r0, [r0, #0]`.
const T32_LDRH_BASE: u16 = 0xF8B0;
/// T32 `ldrsb.w r0, [r0, #0]`.
const T32_LDRSB_BASE: u16 = 0xF990;
/// T32 `ldrsh.w r0, [r0, #0]`.
const T32_LDRSH_BASE: u16 = 0xF9B0;
/// T32 `ldrd r0, r0, [r0, #0]` (P = 1, U = 1, W = 0): `Rn` in bits 0..4 of the first
/// halfword; `Rt` 12..16 and `Rt2` 8..12 of the second.
const T32_LDRD_BASE: u16 = 0xE9D0;

/// What a literal load puts in its register, once it has the address in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    Word,
    Byte,
    Half,
    SignedByte,
    SignedHalf,
    /// `LDRD`, the second register.
    Dual(u32),
}

/// The kinds of branch with a displacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Branch {
    /// A32 `B<c>` (cond in bits 28..32, `AL` included).
    A32,
    /// T32 `B` (T2 or T4), unconditional.
    T32Always,
    /// T32 `B<c>` (T1 or T3) with this condition.
    T32Cond(u32),
    /// T32 `CBZ` (`nonzero` = false) or `CBNZ` on a low register.
    T32Cbz { nonzero: bool, rn: u32 },
}

/// One classified instruction and how it is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rewrite {
    /// Copied as is.
    Verbatim,
    /// A branch to `target`.
    Branch { kind: Branch, target: u64 },
    /// A call to `target` (the literal value: bit 0 set for a T32 callee).
    Call { target: u64 },
    /// `rd` receives `value` (ADR).
    Address { rd: u32, value: u64 },
    /// A literal load of `load` into `rt` from `address`.
    Literal { load: Load, rt: u32, address: u64 },
    /// `VLDR` (literal) from `address`: through `ip`, saved on the stack around it.
    VLiteral { address: u64 },
    /// A prefetch hint with a PC-relative address: a `nop`.
    Hint,
    /// T32 `IT`: the next `count` instructions are its block.
    It { count: usize },
}

/// A decoded prologue instruction.
#[derive(Debug, Clone, Copy)]
struct Item {
    offset: usize,
    len: usize,
    rewrite: Rewrite,
}

impl Item {
    /// Bytes the rewrite emits (`inside`: whether a branch target lies in the copy).
    fn new_len(&self, mode: Mode, inside: bool) -> usize {
        match (mode, self.rewrite) {
            (_, Rewrite::Verbatim | Rewrite::It { .. }) => self.len,
            (Mode::Arm, Rewrite::Branch { .. } | Rewrite::Address { .. } | Rewrite::Hint) => 4,
            (Mode::Arm, Rewrite::Call { .. } | Rewrite::Literal { .. }) => 8,
            (_, Rewrite::VLiteral { .. }) => 16,
            (Mode::Thumb, Rewrite::Branch { kind, .. }) => match (kind, inside) {
                (Branch::T32Cbz { .. }, true) => 2,
                (_, true) => 4,
                (Branch::T32Always, false) => 4,
                (_, false) => 6,
            },
            (Mode::Thumb, Rewrite::Call { .. }) => 6,
            (Mode::Thumb, Rewrite::Address { .. } | Rewrite::Hint) => 4,
            // 16-bit `LDR` literal: `ldr.w` + 16-bit `ldr rt, [rt]`.
            (Mode::Thumb, Rewrite::Literal { .. }) if self.len == 2 => 6,
            (Mode::Thumb, Rewrite::Literal { .. }) => 8,
        }
    }
}

/// Sign-extends the low `bits` bits of `value`.
fn sign_extend(value: u32, bits: u32) -> i64 {
    let shift = 32 - bits;
    i64::from(((value << shift) as i32) >> shift)
}

/// Reads the little-endian halfword at `offset`.
fn half_at(code: &[u8], offset: usize) -> Option<u16> {
    let bytes = code.get(offset..offset.checked_add(2)?)?;
    Some(u16::from_le_bytes(bytes.try_into().ok()?))
}

/// Reads the little-endian word at `offset`.
fn word_at(code: &[u8], offset: usize) -> Option<u32> {
    let bytes = code.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// `ARMExpandImm`: an 8-bit value rotated right by twice the 4-bit rotation.
fn a32_expand_imm(imm12: u32) -> u32 {
    (imm12 & 0xFF).rotate_right(2 * (imm12 >> 8))
}

/// `address ± offset` for a `U` bit.
fn offset_by(address: u64, up: bool, offset: u32) -> u64 {
    let address = address as u32;
    u64::from(if up {
        address.wrapping_add(offset)
    } else {
        address.wrapping_sub(offset)
    })
}

/// Classifies the A32 word `w` at absolute address `addr` by its encoding (before the
/// generic PC check).
fn classify_a32(w: u32, addr: u64, offset: usize) -> Result<Option<Rewrite>, RelocError> {
    let unsupported = |what| Err(RelocError::Unsupported { offset, what });
    let pc = (addr as u32).wrapping_add(8);
    let cond = w >> 28;
    let rt = (w >> 12) & 0xF;
    let up = w & (1 << 23) != 0;
    if cond == 0xF {
        // BLX (immediate): 1111 101H imm24, a call to T32 code.
        if w & 0xFE00_0000 == 0xFA00_0000 {
            let disp = sign_extend(w & 0xFF_FFFF, 24) * 4 + i64::from((w >> 23) & 2);
            let target = u64::from(pc.wrapping_add(disp as u32) | 1);
            return Ok(Some(Rewrite::Call { target }));
        }
        // PLD/PLI (literal): 1111 010x U101 1111.
        if w & 0xFE7F_0000 == 0xF45F_0000 {
            return Ok(Some(Rewrite::Hint));
        }
        return Ok(None);
    }
    // B / BL: cond 101 L imm24.
    if w & 0x0E00_0000 == 0x0A00_0000 {
        let target = u64::from(pc.wrapping_add((sign_extend(w & 0xFF_FFFF, 24) * 4) as u32));
        return Ok(Some(if w & (1 << 24) == 0 {
            Rewrite::Branch {
                kind: Branch::A32,
                target,
            }
        } else {
            Rewrite::Call { target }
        }));
    }
    // LDR / LDRB (literal): cond 010 1 U B 0 1 1111 Rt imm12.
    if w & 0x0F3F_0000 == 0x051F_0000 {
        if rt == PC {
            return unsupported("literal load into pc");
        }
        if rt == SP {
            // The rewrite would hold the literal's address in sp between its two loads.
            return unsupported("literal load into sp");
        }
        let load = if w & (1 << 22) == 0 {
            Load::Word
        } else {
            Load::Byte
        };
        let address = offset_by(pc.into(), up, w & 0xFFF);
        return Ok(Some(Rewrite::Literal { load, rt, address }));
    }
    // LDRH / LDRSB / LDRSH / LDRD (literal): cond 0001 U1W? 1111 Rt imm4H 1op21 imm4L.
    let extra = match w & 0x0F7F_00F0 {
        0x015F_00B0 => Some(Load::Half),
        0x015F_00D0 => Some(Load::SignedByte),
        0x015F_00F0 => Some(Load::SignedHalf),
        0x014F_00D0 => Some(Load::Dual(rt + 1)),
        _ => None,
    };
    if let Some(load) = extra {
        let dual = matches!(load, Load::Dual(_));
        // LDRD: an even first register, and not r12 (its pair would be sp) or r14.
        if rt == PC || rt == SP || (dual && (rt % 2 != 0 || rt >= 12)) {
            return unsupported("literal load into pc, sp or an unpredictable register pair");
        }
        let imm = ((w >> 4) & 0xF0) | (w & 0xF);
        let address = offset_by(pc.into(), up, imm);
        return Ok(Some(Rewrite::Literal { load, rt, address }));
    }
    // ADR: ADD / SUB (immediate, S = 0) with Rn = pc: cond 0010 1000 1111 / 0010 0100 1111.
    let adr = w & 0x0FFF_0000;
    if adr == 0x028F_0000 || adr == 0x024F_0000 {
        if rt == PC {
            return unsupported("ADR into pc");
        }
        let value = offset_by(pc.into(), adr == 0x028F_0000, a32_expand_imm(w & 0xFFF));
        return Ok(Some(Rewrite::Address { rd: rt, value }));
    }
    // VLDR (literal): cond 1101 UD01 1111 Vd 101x imm8 (a word offset).
    if w & 0x0F3F_0E00 == 0x0D1F_0A00 {
        let address = offset_by(u64::from(pc), up, (w & 0xFF) * 4);
        return Ok(Some(Rewrite::VLiteral { address }));
    }
    Ok(None)
}

/// The T32 `B<c>`/`B` displacement of encodings T3 and T4 (`h1`, `h2`: the halfwords).
fn t32_branch_disp(h1: u16, h2: u16, conditional: bool) -> i64 {
    let (h1, h2) = (u32::from(h1), u32::from(h2));
    let s = (h1 >> 10) & 1;
    let j1 = (h2 >> 13) & 1;
    let j2 = (h2 >> 11) & 1;
    let imm11 = h2 & 0x7FF;
    if conditional {
        let imm6 = h1 & 0x3F;
        sign_extend(s << 20 | j2 << 19 | j1 << 18 | imm6 << 12 | imm11 << 1, 21)
    } else {
        let imm10 = h1 & 0x3FF;
        let i1 = !(j1 ^ s) & 1;
        let i2 = !(j2 ^ s) & 1;
        sign_extend(s << 24 | i1 << 23 | i2 << 22 | imm10 << 12 | imm11 << 1, 25)
    }
}

/// Classifies the T32 instruction at absolute address `addr` (`h1`, and `h2` for a 32-bit
/// one) by its encoding (before the generic PC check).
fn classify_t32(
    h1: u16,
    h2: Option<u16>,
    addr: u64,
    offset: usize,
) -> Result<Option<Rewrite>, RelocError> {
    let unsupported = |what| Err(RelocError::Unsupported { offset, what });
    let pc = (addr as u32).wrapping_add(4);
    let base = pc & !3; // Align(PC, 4), for literal loads and ADR.
    let rel = |disp: i64| u64::from(pc.wrapping_add(disp as u32));
    let Some(h2) = h2 else {
        // B<c> (T1): 1101 cond imm8; cond 1110 is UDF, 1111 SVC.
        if h1 & 0xF000 == 0xD000 {
            let cond = u32::from((h1 >> 8) & 0xF);
            if cond >= 0xE {
                return Ok(None);
            }
            let kind = Branch::T32Cond(cond);
            let target = rel(sign_extend(u32::from(h1 & 0xFF), 8) * 2);
            return Ok(Some(Rewrite::Branch { kind, target }));
        }
        // B (T2): 11100 imm11.
        if h1 & 0xF800 == 0xE000 {
            let target = rel(sign_extend(u32::from(h1 & 0x7FF), 11) * 2);
            let kind = Branch::T32Always;
            return Ok(Some(Rewrite::Branch { kind, target }));
        }
        // CBZ / CBNZ: 1011 o0i1 imm5 Rn.
        if h1 & 0xF500 == 0xB100 {
            let imm = u32::from((h1 >> 3) & 0x1F) << 1 | u32::from((h1 >> 9) & 1) << 6;
            let kind = Branch::T32Cbz {
                nonzero: h1 & 0x800 != 0,
                rn: u32::from(h1 & 7),
            };
            return Ok(Some(Rewrite::Branch {
                kind,
                target: rel(imm.into()),
            }));
        }
        // LDR (literal, T1): 01001 Rt imm8.
        if h1 & 0xF800 == 0x4800 {
            let rt = u32::from((h1 >> 8) & 7);
            let address = u64::from(base + u32::from(h1 & 0xFF) * 4);
            let load = Load::Word;
            return Ok(Some(Rewrite::Literal { load, rt, address }));
        }
        // ADR (T1): 10100 Rd imm8.
        if h1 & 0xF800 == 0xA000 {
            let rd = u32::from((h1 >> 8) & 7);
            let value = u64::from(base + u32::from(h1 & 0xFF) * 4);
            return Ok(Some(Rewrite::Address { rd, value }));
        }
        // IT: 1011 1111 firstcond mask (mask != 0; mask 0 is a hint).
        if h1 & 0xFF00 == 0xBF00 && h1 & 0xF != 0 {
            let count = 4 - (h1 & 0xF).trailing_zeros() as usize;
            return Ok(Some(Rewrite::It { count }));
        }
        return Ok(None);
    };
    let (w1, w2) = (u32::from(h1), u32::from(h2));
    // Branches and miscellaneous control: 11110 xxxxxxxxxxx | 1xxx.
    if h1 & 0xF800 == 0xF000 && h2 & 0x8000 != 0 {
        match h2 & 0x5000 {
            // B<c> (T3), unless cond is 111x (MSR, hints, barriers, ... : other classes).
            0x0000 => {
                let cond = (w1 >> 6) & 0xF;
                if cond >= 0xE {
                    return Ok(None);
                }
                let target = rel(t32_branch_disp(h1, h2, true));
                let kind = Branch::T32Cond(cond);
                return Ok(Some(Rewrite::Branch { kind, target }));
            }
            // B (T4).
            0x1000 => {
                let target = rel(t32_branch_disp(h1, h2, false));
                let kind = Branch::T32Always;
                return Ok(Some(Rewrite::Branch { kind, target }));
            }
            // BL (T1): a call to T32 code.
            0x5000 => {
                let target = rel(t32_branch_disp(h1, h2, false)) | 1;
                return Ok(Some(Rewrite::Call { target }));
            }
            // BLX (T2): a call to A32 code, from Align(PC, 4); H (bit 0) must be 0.
            _ => {
                if h2 & 1 != 0 {
                    return unsupported("BLX with H = 1");
                }
                let disp = t32_branch_disp(h1, h2, false);
                let target = u64::from(base.wrapping_add(disp as u32));
                return Ok(Some(Rewrite::Call { target }));
            }
        }
    }
    let rt = w2 >> 12;
    let up = w1 & (1 << 7) != 0;
    // LDR/LDRB/LDRH/LDRSB/LDRSH (literal): 1111 100S U xx1 1111 (xx: size).
    let load = match w1 & 0xFF7F {
        0xF85F => Some(Load::Word),
        0xF81F => Some(Load::Byte),
        0xF83F => Some(Load::Half),
        0xF91F => Some(Load::SignedByte),
        0xF93F => Some(Load::SignedHalf),
        _ => None,
    };
    if let Some(load) = load {
        let address = offset_by(base.into(), up, w2 & 0xFFF);
        return match (load, rt) {
            (Load::Word, PC) => unsupported("literal load into pc"),
            // PLD / PLI (literal) and unallocated hints.
            (_, PC) => Ok(Some(Rewrite::Hint)),
            (_, SP) => unsupported("literal load into sp"),
            _ => Ok(Some(Rewrite::Literal { load, rt, address })),
        };
    }
    // LDRD (literal): 1110 100P U1W1 1111, P = 1, W = 0 (other P/W forms are refused).
    if w1 & 0xFE5F == 0xE85F && w1 & 0x120 != 0 {
        let rt2 = (w2 >> 8) & 0xF;
        if w1 & 0x120 != 0x100 || rt == rt2 || [rt, rt2].iter().any(|&r| r == SP || r == PC) {
            return unsupported("LDRD literal with writeback or an unpredictable register");
        }
        let address = offset_by(base.into(), up, (w2 & 0xFF) * 4);
        let load = Load::Dual(rt2);
        return Ok(Some(Rewrite::Literal { load, rt, address }));
    }
    // ADR (T2, subtract / T3, add): 11110 i 10 1010 1111 / 11110 i 10 0000 1111, bit 15 0.
    let adr = w1 & 0xFBFF;
    if (adr == 0xF2AF || adr == 0xF20F) && h2 & 0x8000 == 0 {
        let rd = (w2 >> 8) & 0xF;
        if rd == SP || rd == PC {
            return unsupported("ADR into sp or pc");
        }
        let imm = (w1 >> 10 & 1) << 11 | (w2 >> 12 & 7) << 8 | (w2 & 0xFF);
        let value = offset_by(base.into(), adr == 0xF20F, imm);
        return Ok(Some(Rewrite::Address { rd, value }));
    }
    // VLDR (literal): 1110 1101 UD01 1111 | Vd 101x imm8 (a word offset from Align(PC, 4)).
    if w1 & 0xFF3F == 0xED1F && w2 & 0x0E00 == 0x0A00 {
        let address = offset_by(base.into(), up, (w2 & 0xFF) * 4);
        return Ok(Some(Rewrite::VLiteral { address }));
    }
    Ok(None)
}

/// Whether Capstone's view of an instruction involves `pc` (an operand, an implicit
/// register) or puts it in a control-flow group.
fn touches_pc(detail: &InsnDetail<'_>) -> bool {
    let pc = RegId(ArmReg::ARM_REG_PC as u16);
    if detail.regs_read().contains(&pc) || detail.regs_write().contains(&pc) {
        return true;
    }
    let groups = [
        ArmInsnGroup::ARM_GRP_JUMP,
        ArmInsnGroup::ARM_GRP_CALL,
        ArmInsnGroup::ARM_GRP_INT,
        ArmInsnGroup::ARM_GRP_BRANCH_RELATIVE,
    ];
    if detail
        .groups()
        .iter()
        .any(|g| groups.contains(&u32::from(g.0)))
    {
        return true;
    }
    let arch = detail.arch_detail();
    let Some(arm) = arch.arm() else {
        return true;
    };
    arm.operands().any(|op| match op.op_type {
        ArmOperandType::Reg(reg) => reg == pc,
        ArmOperandType::Mem(mem) => mem.base() == pc || mem.index() == pc,
        _ => false,
    })
}

/// The shape of a found stub.
struct Stub {
    /// Offset of the stub's `movw` from the entry (= the prologue's length).
    start: usize,
    /// The stub's register.
    reg: u32,
}

/// Checks the stub at the end of `code` (see [`crate::arch::arm`]).
fn find_stub(mode: Mode, code: &[u8]) -> Result<Stub, RelocError> {
    let malformed = RelocError::MalformedStub;
    let align = match mode {
        Mode::Arm => 4,
        Mode::Thumb => 2,
    };
    if code.len() < STUB_LEN || code.len() % align != 0 {
        return Err(malformed);
    }
    let start = code.len() - STUB_LEN;
    if code.get(start + 12..) != Some(&magic(mode)[..]) {
        return Err(malformed);
    }
    let halves = |at: usize| Some([half_at(code, at)?, half_at(code, at + 2)?]);
    let reg = match mode {
        Mode::Arm => {
            let movw = word_at(code, start).ok_or(malformed)?;
            let movt = word_at(code, start + 4).ok_or(malformed)?;
            let reg = (movw >> 12) & 0xF;
            if movw & !0xF000 != STUB_MOVW_A32
                || movt != STUB_MOVT_A32 | (reg << 12)
                || word_at(code, start + 8) != Some(STUB_B_A32)
            {
                return Err(malformed);
            }
            reg
        }
        Mode::Thumb => {
            let movw = halves(start).ok_or(malformed)?;
            let movt = halves(start + 4).ok_or(malformed)?;
            let reg = u32::from((movw[1] >> 8) & 0xF);
            let with_reg = |hw: [u16; 2]| [hw[0], hw[1] | ((reg as u16) << 8)];
            if movw != with_reg(STUB_MOVW_T32)
                || movt != with_reg(STUB_MOVT_T32)
                || halves(start + 8) != Some(STUB_B_T32)
            {
                return Err(malformed);
            }
            reg
        }
    };
    if reg == SP || reg == PC {
        return Err(malformed);
    }
    Ok(Stub { start, reg })
}

/// Relocates a thunk template's prologue and stub.
///
/// `code` is the template from its entry through the **end** of the 16-byte magic (the
/// caller found the magic: it is exactly the last 16 bytes); `entry` is the absolute code
/// address of `code[0]` (bit 0 clear, also for T32). See the [module documentation](self)
/// for the rules and the output layout.
///
/// # Errors
/// [`RelocError::MalformedStub`] if the stub does not have the expected shape (or `entry`
/// is misaligned), [`RelocError::Decode`] if a prologue instruction cannot be decoded,
/// [`RelocError::Unsupported`] for an instruction that cannot be moved,
/// [`RelocError::OutOfRange`] if a displacement inside the copy does not fit, and
/// [`RelocError::Disassembler`] if Capstone cannot be initialised.
///
/// # Example
///
/// ```
/// use closure_ffi::arch::arm::reloc::relocate;
/// use closure_ffi::arch::arm::{Mode, MAGIC_A32};
///
/// let words = |ws: &[u32]| ws.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>();
/// // push {r4, lr}; then the stub into r4: movw, movt, b +28; the magic.
/// let mut code = words(&[0xE92D_4010, 0xE30A_4640, 0xE34C_41F5, 0xEA00_0003]);
/// code.extend_from_slice(&MAGIC_A32);
///
/// let entry = 0x7000_1000;
/// let prepared = relocate(Mode::Arm, &code, entry)?;
/// // push {r4, lr}; ldr r4, [pc, #0] (slot at 12); ldr pc, [pc, #0] (continuation at 16)
/// assert_eq!(prepared.code[..12], words(&[0xE92D_4010, 0xE59F_4000, 0xE59F_F000]));
/// assert_eq!(prepared.closure_slot, 12);
/// assert_eq!(prepared.code[16..20], (entry as u32 + code.len() as u32).to_le_bytes());
/// # Ok::<(), closure_ffi::thunk::RelocError>(())
/// ```
pub fn relocate(mode: Mode, code: &[u8], entry: u64) -> Result<PreparedTemplate, RelocError> {
    let stub = find_stub(mode, code)?;
    let align = match mode {
        Mode::Arm => 4,
        Mode::Thumb => 2,
    };
    if entry % align != 0 || entry > u64::from(u32::MAX) {
        return Err(RelocError::MalformedStub);
    }
    if stub.start > MAX_PROLOGUE_LEN {
        return Err(RelocError::Unsupported {
            offset: MAX_PROLOGUE_LEN,
            what: "prologue longer than MAX_PROLOGUE_LEN",
        });
    }
    let continuation = entry
        .checked_add(code.len() as u64)
        .filter(|&c| c <= u64::from(u32::MAX))
        .ok_or(RelocError::OutOfRange { offset: stub.start })?;
    let prologue = &code[..stub.start];
    let items = decode(mode, prologue, entry)?;
    check_it_blocks(&items)?;

    // Pass 1: where every original instruction (and the stub) lands.
    let index_of = |target: u64| -> Option<usize> {
        let off = usize::try_from(target.checked_sub(entry)?).ok()?;
        if off == stub.start {
            return Some(items.len());
        }
        items.binary_search_by_key(&off, |item| item.offset).ok()
    };
    let mut new_offsets = Vec::with_capacity(items.len() + 1);
    let mut at = 0usize;
    for item in &items {
        new_offsets.push(at);
        let mut inside = false;
        if let Rewrite::Branch { target, .. } | Rewrite::Call { target } = item.rewrite {
            let code_target = target & !1;
            let unsupported = |what| RelocError::Unsupported {
                offset: item.offset,
                what,
            };
            if code_target >= entry && code_target < continuation {
                if index_of(code_target).is_none() {
                    return Err(unsupported("branch into the stub or into an instruction"));
                }
                if matches!(item.rewrite, Rewrite::Call { .. }) {
                    return Err(unsupported("call into the copied block"));
                }
                inside = true;
            }
        }
        at += item.new_len(mode, inside);
    }
    new_offsets.push(at);
    let code_end = at + 8;
    let pool = code_end.next_multiple_of(4);
    let thumb_bit = u64::from(mode == Mode::Thumb);

    // Pass 2: emit, with literals appended after the slot and the continuation.
    let mut out = Emitter {
        mode,
        bytes: Vec::with_capacity(pool + 8),
        literals: alloc::vec![0, (continuation | thumb_bit) as u32],
        pool,
    };
    for (i, item) in items.iter().enumerate() {
        let offset = item.offset;
        let original = &prologue[offset..offset + item.len];
        let out_of_range = RelocError::OutOfRange { offset };
        match item.rewrite {
            Rewrite::Verbatim | Rewrite::It { .. } => out.bytes.extend_from_slice(original),
            Rewrite::Branch { kind, target } => {
                let dest = if target & !1 >= entry && target & !1 < continuation {
                    index_of(target & !1).map(|j| new_offsets[j])
                } else {
                    None
                };
                out.branch(kind, original, target, dest)
                    .ok_or(out_of_range)?;
            }
            Rewrite::Call { target } => {
                let cond = a32_cond(mode, original);
                out.load_literal(IP, target as u32, cond)?;
                match mode {
                    Mode::Arm => out.push_a32(A32_BLX_REG | (cond << 28) | IP),
                    Mode::Thumb => out.push_t16(T32_BLX_IP),
                }
            }
            Rewrite::Address { rd, value } => {
                let cond = a32_cond(mode, original);
                out.load_literal(rd, value as u32, cond)?;
            }
            Rewrite::Literal { load, rt, address } => {
                let cond = a32_cond(mode, original);
                out.load_literal(rt, address as u32, cond)?;
                out.load_through(load, rt, cond, item.len == 2);
            }
            Rewrite::VLiteral { address } => {
                let cond = a32_cond(mode, original);
                out.vldr_through_ip(original, address as u32, cond)?;
            }
            Rewrite::Hint => match mode {
                Mode::Arm => out.push_a32(A32_NOP),
                Mode::Thumb => out.push_t32(T32_NOP_W),
            },
        }
        if out.here() != new_offsets[i + 1] {
            return Err(RelocError::Unsupported {
                offset,
                what: "rewrite length mismatch",
            });
        }
    }
    // The stub: load the closure pointer, jump back to the continuation.
    out.load_pool(stub.reg, 0, 0xE)?;
    out.load_pool(PC, 1, 0xE)?;
    while out.here() < pool {
        out.push_t16(T32_POOL_PAD);
    }
    let mut bytes = out.bytes;
    for literal in &out.literals {
        bytes.extend_from_slice(&literal.to_le_bytes());
    }
    Ok(PreparedTemplate {
        code: bytes.into_boxed_slice(),
        closure_slot: pool,
        fixups: alloc::boxed::Box::new([]),
    })
}

/// The condition of an A32 instruction for its rewrite (`AL` for the unconditional space,
/// `BLX` immediate, and for T32, where rewrites are never conditional: IT blocks around them
/// are refused).
fn a32_cond(mode: Mode, original: &[u8]) -> u32 {
    match (mode, word_at(original, 0)) {
        (Mode::Arm, Some(w)) if w >> 28 != 0xF => w >> 28,
        _ => 0xE,
    }
}

/// Refuses a T32 IT block that covers a rewritten instruction (its condition would not
/// apply to the rewrite, whose length differs) or that reaches past the prologue.
fn check_it_blocks(items: &[Item]) -> Result<(), RelocError> {
    for (i, item) in items.iter().enumerate() {
        if let Rewrite::It { count } = item.rewrite {
            let block = items.get(i + 1..i + 1 + count);
            let unsupported = |what| RelocError::Unsupported {
                offset: item.offset,
                what,
            };
            let Some(block) = block else {
                return Err(unsupported("IT block reaching into the stub"));
            };
            if block.iter().any(|b| b.rewrite != Rewrite::Verbatim) {
                return Err(unsupported("IT block around a PC-relative instruction"));
            }
        }
    }
    Ok(())
}

/// Decodes the prologue with Capstone (every instruction must be valid) and classifies
/// each instruction.
fn decode(mode: Mode, prologue: &[u8], entry: u64) -> Result<Vec<Item>, RelocError> {
    let cs = Capstone::new()
        .arm()
        .mode(match mode {
            Mode::Arm => ArchMode::Arm,
            Mode::Thumb => ArchMode::Thumb,
        })
        .detail(true)
        .build()
        .map_err(|_| RelocError::Disassembler)?;
    let mut iter = cs
        .disasm_iter(prologue, entry)
        .map_err(|_| RelocError::Disassembler)?;
    let mut items = Vec::with_capacity(prologue.len() / 2);
    let mut offset = 0;
    // Terminates: every iteration consumes 2 or 4 bytes of a bounded prologue.
    while offset < prologue.len() {
        let decode_error = RelocError::Decode { offset };
        let insn = iter.next().ok_or(decode_error)?;
        let len = insn.len();
        let addr = entry.wrapping_add(offset as u64);
        let end = offset.checked_add(len).ok_or(decode_error)?;
        let bytes = prologue.get(offset..end).ok_or(decode_error)?;
        if !(len == 4 || (len == 2 && mode == Mode::Thumb))
            || insn.address() != addr
            || insn.bytes() != bytes
        {
            return Err(decode_error);
        }
        let rewrite = match mode {
            Mode::Arm => {
                let w = word_at(bytes, 0).ok_or(decode_error)?;
                classify_a32(w, addr, offset)?
            }
            Mode::Thumb => {
                let h1 = half_at(bytes, 0).ok_or(decode_error)?;
                let h2 = if len == 4 { half_at(bytes, 2) } else { None };
                if (len == 4) != (h1 >> 11 >= 0b11101) {
                    return Err(decode_error);
                }
                classify_t32(h1, h2, addr, offset)?
            }
        };
        let rewrite = match rewrite {
            Some(rewrite) => rewrite,
            None => {
                let detail = cs.insn_detail(&insn).map_err(|_| decode_error)?;
                if touches_pc(&detail) {
                    return Err(RelocError::Unsupported {
                        offset,
                        what: "instruction that reads or writes pc, or branches",
                    });
                }
                Rewrite::Verbatim
            }
        };
        items.push(Item {
            offset,
            len,
            rewrite,
        });
        offset = end;
    }
    Ok(items)
}

/// The output bytes and the literal pool being built.
struct Emitter {
    mode: Mode,
    bytes: Vec<u8>,
    /// Pool entries: `[0]` the closure slot, `[1]` the continuation, then the rest.
    literals: Vec<u32>,
    /// Offset of the pool in the output.
    pool: usize,
}

impl Emitter {
    fn here(&self) -> usize {
        self.bytes.len()
    }

    fn push_a32(&mut self, word: u32) {
        self.bytes.extend_from_slice(&word.to_le_bytes());
    }

    fn push_t16(&mut self, half: u16) {
        self.bytes.extend_from_slice(&half.to_le_bytes());
    }

    fn push_t32(&mut self, halves: [u16; 2]) {
        self.push_t16(halves[0]);
        self.push_t16(halves[1]);
    }

    /// `ldr<cond> r<rt>, <pool entry index>` (`cond` is ignored in T32).
    fn load_pool(&mut self, rt: u32, index: usize, cond: u32) -> Result<(), RelocError> {
        let out_of_range = RelocError::OutOfRange {
            offset: self.here(),
        };
        let entry = self.pool + 4 * index;
        let pc = match self.mode {
            Mode::Arm => self.here() + 8,
            Mode::Thumb => (self.here() + 4) & !3,
        };
        let disp = entry
            .checked_sub(pc)
            .filter(|&d| d < 4096)
            .ok_or(out_of_range)? as u32;
        match self.mode {
            Mode::Arm => self.push_a32(A32_LDR_LIT | (cond << 28) | (rt << 12) | disp),
            Mode::Thumb => self.push_t32([
                T32_LDR_LIT[0],
                T32_LDR_LIT[1] | (rt << 12) as u16 | disp as u16,
            ]),
        }
        Ok(())
    }

    /// `ldr<cond> r<rt>, =value` through a new pool entry.
    fn load_literal(&mut self, rt: u32, value: u32, cond: u32) -> Result<(), RelocError> {
        self.literals.push(value);
        self.load_pool(rt, self.literals.len() - 1, cond)
    }

    /// `ldr.. rt, [rt]` (`rt2` too for `LDRD`). `narrow`: the original was T32's 16-bit
    /// `LDR` literal (a low register), whose 16-bit `ldr rt, [rt]` keeps its length.
    fn load_through(&mut self, load: Load, rt: u32, cond: u32, narrow: bool) {
        match self.mode {
            Mode::Arm => {
                let base = match load {
                    Load::Word => A32_LDR_BASE,
                    Load::Byte => A32_LDRB_BASE,
                    Load::Half => A32_LDRH_BASE,
                    Load::SignedByte => A32_LDRSB_BASE,
                    Load::SignedHalf => A32_LDRSH_BASE,
                    Load::Dual(_) => A32_LDRD_BASE,
                };
                self.push_a32(base | (cond << 28) | (rt << 16) | (rt << 12));
            }
            Mode::Thumb if narrow => self.push_t16(0x6800 | (rt << 3 | rt) as u16),
            Mode::Thumb => {
                let (first, second) = match load {
                    Load::Word => (T32_LDR_BASE, 0),
                    Load::Byte => (T32_LDRB_BASE, 0),
                    Load::Half => (T32_LDRH_BASE, 0),
                    Load::SignedByte => (T32_LDRSB_BASE, 0),
                    Load::SignedHalf => (T32_LDRSH_BASE, 0),
                    Load::Dual(rt2) => (T32_LDRD_BASE, rt2 << 8),
                };
                self.push_t32([first | rt as u16, (rt << 12 | second) as u16]);
            }
        }
    }

    /// `push {ip}; ldr ip, =address; vldr <original register>, [ip]; pop {ip}` (all with
    /// `cond` in A32): `VLDR` has no register of its own to hold the address, and `ip` may be
    /// live here, so it is saved below the stack pointer's new value (a push: nothing below
    /// `sp` is ever relied on).
    fn vldr_through_ip(
        &mut self,
        original: &[u8],
        address: u32,
        cond: u32,
    ) -> Result<(), RelocError> {
        let malformed = RelocError::Decode {
            offset: self.here(),
        };
        match self.mode {
            Mode::Arm => {
                let w = word_at(original, 0).ok_or(malformed)?;
                self.push_a32(A32_PUSH_IP | (cond << 28));
                self.load_literal(IP, address, cond)?;
                // Rn = ip, U = 1, imm8 = 0; cond, D, Vd and the size kept.
                self.push_a32((w & !0x008F_00FF) | (1 << 23) | (IP << 16));
                self.push_a32(A32_POP_IP | (cond << 28));
            }
            Mode::Thumb => {
                let h1 = half_at(original, 0).ok_or(malformed)?;
                let h2 = half_at(original, 2).ok_or(malformed)?;
                self.push_t32(T32_PUSH_IP);
                self.load_literal(IP, address, 0xE)?;
                self.push_t32([(h1 & !0x008F) | 0x0080 | IP as u16, h2 & !0x00FF]);
                self.push_t32(T32_POP_IP);
            }
        }
        Ok(())
    }

    /// A branch of `kind` (the `original` bytes) to `target`: to the new offset `dest` when
    /// the target is inside the copy, else out through the pool. `None` if a displacement
    /// does not fit.
    fn branch(
        &mut self,
        kind: Branch,
        original: &[u8],
        target: u64,
        dest: Option<usize>,
    ) -> Option<()> {
        let here = self.here();
        match (kind, dest) {
            (Branch::A32, Some(dest)) => {
                let w = word_at(original, 0)?;
                let disp = dest as i64 - (here as i64 + 8);
                let imm = disp / 4;
                if !(-(1 << 23)..(1 << 23)).contains(&imm) {
                    return None;
                }
                self.push_a32((w & 0xFF00_0000) | (imm as u32 & 0xFF_FFFF));
            }
            (Branch::A32, None) => {
                let cond = word_at(original, 0)? >> 28;
                self.load_literal(PC, target as u32, cond).ok()?;
            }
            (Branch::T32Cbz { nonzero, rn }, Some(dest)) => {
                let disp = dest.checked_sub(here + 4)?;
                if disp > 126 {
                    return None;
                }
                let disp = disp as u16;
                let op = u16::from(nonzero) << 11;
                self.push_t16(
                    0xB100 | op | (disp >> 6 & 1) << 9 | (disp >> 1 & 0x1F) << 3 | rn as u16,
                );
            }
            (Branch::T32Always, Some(dest)) | (Branch::T32Cond(_), Some(dest)) => {
                let disp = dest as i64 - (here as i64 + 4);
                let cond = match kind {
                    Branch::T32Cond(cond) => Some(cond),
                    _ => None,
                };
                self.push_t32(t32_branch(disp, cond)?);
            }
            (_, None) => {
                // Skip the outward load unless the condition holds (a 16-bit branch over 4
                // bytes: displacement 2 from PC = here + 4).
                match kind {
                    Branch::T32Cond(cond) => self.push_t16(0xD000 | ((cond ^ 1) << 8) as u16 | 1),
                    Branch::T32Cbz { nonzero, rn } => {
                        self.push_t16(0xB100 | u16::from(!nonzero) << 11 | 1 << 3 | rn as u16)
                    }
                    _ => {}
                }
                self.load_literal(PC, (target | 1) as u32, 0xE).ok()?;
            }
        }
        Some(())
    }
}

/// T32 `b.w` (T4, `cond` = `None`) or `b<cond>.w` (T3) with a byte displacement from `PC`;
/// `None` if it does not fit (±16 MiB / ±1 MiB) or is odd.
fn t32_branch(disp: i64, cond: Option<u32>) -> Option<[u16; 2]> {
    if disp % 2 != 0 {
        return None;
    }
    let imm = disp as u32;
    let s = (imm >> 31) & 1;
    match cond {
        None => {
            if !(-(1 << 24)..(1 << 24)).contains(&disp) {
                return None;
            }
            let i1 = (imm >> 23) & 1;
            let i2 = (imm >> 22) & 1;
            let j1 = !(i1 ^ s) & 1;
            let j2 = !(i2 ^ s) & 1;
            let h1 = 0xF000 | s << 10 | (imm >> 12) & 0x3FF;
            let h2 = 0x9000 | j1 << 13 | j2 << 11 | (imm >> 1) & 0x7FF;
            Some([h1 as u16, h2 as u16])
        }
        Some(cond) => {
            if !(-(1 << 20)..(1 << 20)).contains(&disp) {
                return None;
            }
            let j1 = (imm >> 18) & 1;
            let j2 = (imm >> 19) & 1;
            let h1 = 0xF000 | s << 10 | cond << 6 | (imm >> 12) & 0x3F;
            let h2 = 0x8000 | j1 << 13 | j2 << 11 | (imm >> 1) & 0x7FF;
            Some([h1 as u16, h2 as u16])
        }
    }
}

#[cfg(test)]
mod tests;
