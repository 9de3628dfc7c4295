//! The AArch64 relocator: makes a thunk template's prologue position-independent.
//!
//! A thunk is a copy, at an arbitrary address, of its template's code from the entry through
//! the stub (see [`crate::arch::aarch64`]), followed by a jump back into the template.
//! [`relocate`] rewrites that range once per template; every thunk is then a `memcpy`, a
//! store of the closure pointer at [`PreparedTemplate::closure_slot`] and the (usually
//! empty) list of [`Fixup::Branch26`]s.
//!
//! # Output layout
//!
//! ```text
//!  +---------------------------------------------+
//!  | relocated prologue (one or more words per   |
//!  |   original word, see the rules)             |
//!  +---------------------------------------------+
//!  | ldr  p, closure_slot       the stub's load  |
//!  | ldr  x16, continuation                      |
//!  | br   x16                                    |
//!  +---------------------------------------------+
//!  | udf #0        (if needed, to an 8-byte      |
//!  |                boundary of the code)        |
//!  +---------------------------------------------+
//!  | u64 closure slot   <- closure_slot          |
//!  | u64 continuation   (entry + code.len())     |
//!  | u64 literals, in order of first use         |
//!  +---------------------------------------------+
//! ```
//!
//! The magic and the template's literal are not copied. The pool is 8-byte aligned relative
//! to the start of the code, so it is aligned in memory when the copy is.
//!
//! # Rules
//!
//! Every prologue word must decode with Capstone (else [`RelocError::Decode`]); it is then
//! classified by its encoding (Arm ARM, "A64 instruction set encoding") and rewritten by the
//! first rule that matches. *Inside* means a target in `entry..=stub` on a word boundary (the
//! stub's `ldr` counts, as a compiler may branch straight to it); anything else is *outside*.
//!
//! | original | inside | outside |
//! |---|---|---|
//! | `B` | `B` (new displacement) | `B` + [`Fixup::Branch26`] (±128 MiB of the copy) |
//! | `B.cond`, `CBZ`/`CBNZ`, `TBZ`/`TBNZ` | same, new displacement | inverted condition over the next word; `B` + fixup (`B.AL`/`B.NV`: `nop; B`) |
//! | `BL` | refused (a call into the copy) | `ldr x16, lit; blr x16` |
//! | `ADR xd` / `ADRP xd` | – | `ldr xd, lit` (the address or page the original computes) |
//! | `LDR wt/xt, lit`, `LDRSW xt, lit` | – | `ldr xt, lit; ldr wt/xt, [xt]` / `ldrsw xt, [xt]` |
//! | `LDR st/dt/qt, lit` (SIMD&FP) | – | `str x16, [sp, #-16]!; ldr x16, lit; ldr st/dt/qt, [x16]; ldr x16, [sp], #16` |
//! | `PRFM lit` | – | `nop` (a prefetch is only a hint) |
//!
//! Refused ([`RelocError::Unsupported`]): `BC.cond`, exception generation (`SVC`, `BRK`,
//! `UDF`, ...), every register branch (`BR`, `BLR`, `RET` and their pointer-authentication
//! forms: control flow that leaves the prologue for an unknown place, possibly the
//! template's own prologue through a jump table, whose stub would load the placeholder), any
//! other word in the branch/exception/system class that is not a system instruction (e.g.
//! the compare-and-branch forms of newer architecture versions), an integer literal load
//! into register 31, and the unallocated SIMD&FP literal load. Everything else is copied
//! verbatim (A64 has no other PC-relative forms).
//!
//! ## Registers
//!
//! `BL` and the jump back use x16 (IP0): AAPCS64 lets any call clobber it, and the stub
//! declares it clobbered, so nothing lives in it at either point. The SIMD&FP literal loads
//! need an address register but have none of their own, so they save x16 below the stack
//! pointer (16 bytes, keeping `sp` aligned; AAPCS64 on Linux has no red zone) and restore it.
//! Outward `B`/`B.cond`/... keep every register: they go through a direct `B` patched per
//! copy, which is why they need the copy within ±128 MiB of the target (the pool allocator
//! maps near the program's code). Further away, creating the thunk fails with
//! [`RelocError::OutOfRange`]; it never jumps wrong.
//!
//! Every rewritten form has a length that depends only on the original word, so the layout
//! is one pass (old offset -> new offset) and displacements are encoded in a second pass.
//! Relocation fails closed: nothing is truncated, and no input panics.

use alloc::vec::Vec;

use capstone::arch::arm64::ArchMode;
use capstone::arch::BuildsCapstone;
use capstone::Capstone;

use crate::arch::aarch64::{MAGIC, PLACEHOLDER_64, SCRATCH, STUB_B, STUB_LDR, STUB_LEN};
use crate::thunk::{Fixup, PreparedTemplate, RelocError};

/// Longest prologue (bytes before the stub) that is relocated; bounds the decoding work.
pub const MAX_PROLOGUE_LEN: usize = 4096;

/// `nop`.
const NOP: u32 = 0xD503_201F;
/// `udf #0`: filler before the literal pool.
const POOL_PAD: u32 = 0x0000_0000;
/// Alignment of the literal pool.
const POOL_ALIGN: usize = 8;

/// `b #0` (imm26 in bits 0..26).
const B: u32 = 0x1400_0000;
/// `blr x0` (Rn in bits 5..10).
const BLR: u32 = 0xD63F_0000;
/// `br x0` (Rn in bits 5..10).
const BR: u32 = 0xD61F_0000;
/// `ldr x0, #0` (LDR literal, 64-bit; imm19 in bits 5..24, Rt in bits 0..5).
const LDR_X_LIT: u32 = 0x5800_0000;
/// `ldr w0, [x0]` (unsigned offset 0; Rn in bits 5..10).
const LDR_W_BASE: u32 = 0xB940_0000;
/// `ldr x0, [x0]`.
const LDR_X_BASE: u32 = 0xF940_0000;
/// `ldrsw x0, [x0]`.
const LDRSW_BASE: u32 = 0xB980_0000;
/// `ldr s0, [x0]`.
const LDR_S_BASE: u32 = 0xBD40_0000;
/// `ldr d0, [x0]`.
const LDR_D_BASE: u32 = 0xFD40_0000;
/// `ldr q0, [x0]`.
const LDR_Q_BASE: u32 = 0x3DC0_0000;
/// `str x16, [sp, #-16]!` (pre-index, imm9 = -16).
const PUSH_X16: u32 = 0xF81F_0FF0;
/// `ldr x16, [sp], #16` (post-index, imm9 = 16).
const POP_X16: u32 = 0xF841_07F0;

/// The width of a conditional or unconditional branch's displacement field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// `B`, `BL`: imm26 in bits 0..26.
    Imm26,
    /// `B.cond`, `CBZ`, `CBNZ`: imm19 in bits 5..24.
    Imm19,
    /// `TBZ`, `TBNZ`: imm14 in bits 5..19.
    Imm14,
}

impl Field {
    /// `(shift, bits)` of the word-count displacement field.
    fn layout(self) -> (u32, u32) {
        match self {
            Field::Imm26 => (0, 26),
            Field::Imm19 => (5, 19),
            Field::Imm14 => (5, 14),
        }
    }

    /// The signed byte displacement encoded in `word`.
    fn read(self, word: u32) -> i64 {
        let (shift, bits) = self.layout();
        sign_extend(u64::from(word >> shift), bits) * 4
    }

    /// `word` with its displacement replaced by `disp` bytes, or `None` if `disp` does not fit
    /// (or is not a multiple of 4).
    fn write(self, word: u32, disp: i64) -> Option<u32> {
        let (shift, bits) = self.layout();
        if disp % 4 != 0 {
            return None;
        }
        let imm = disp / 4;
        let half = 1i64 << (bits - 1);
        if imm < -half || imm >= half {
            return None;
        }
        let mask = ((1u32 << bits) - 1) << shift;
        Some((word & !mask) | (((imm as u32) << shift) & mask))
    }
}

/// Sign-extends the low `bits` bits of `value`.
fn sign_extend(value: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((value << shift) as i64) >> shift
}

/// What a literal load puts in its register, once it has the address in a GPR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    W,
    X,
    Sw,
    S,
    D,
    Q,
}

/// One classified prologue word and how it is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rewrite {
    /// Copied as is.
    Verbatim,
    /// A branch with a displacement field; `conditional` for everything but `B`.
    Branch {
        field: Field,
        conditional: bool,
        target: u64,
    },
    /// `BL` to a target outside the block.
    Call { target: u64 },
    /// `ADR`/`ADRP`: `rd` receives `value`.
    Address { rd: u32, value: u64 },
    /// A literal load of `load` into register `rt` from `address`.
    Literal { load: Load, rt: u32, address: u64 },
    /// `PRFM (literal)`.
    Prefetch,
}

impl Rewrite {
    /// Number of words the rewrite emits, given where a branch target lies.
    fn words(self, inside: bool) -> usize {
        match self {
            Rewrite::Verbatim | Rewrite::Address { .. } | Rewrite::Prefetch => 1,
            Rewrite::Branch { conditional, .. } => {
                if inside || !conditional {
                    1
                } else {
                    2
                }
            }
            Rewrite::Call { .. } => 2,
            Rewrite::Literal { load, .. } => match load {
                Load::W | Load::X | Load::Sw => 2,
                Load::S | Load::D | Load::Q => 4,
            },
        }
    }
}

/// Classifies the word at absolute address `pc` (already decoded by Capstone).
fn classify(word: u32, pc: u64, offset: usize) -> Result<Rewrite, RelocError> {
    let unsupported = |what| Err(RelocError::Unsupported { offset, what });
    let rel = |field: Field| pc.wrapping_add(field.read(word) as u64);
    // B / BL: x00101 imm26.
    if word & 0x7C00_0000 == 0x1400_0000 {
        let target = rel(Field::Imm26);
        return Ok(if word & 0x8000_0000 == 0 {
            Rewrite::Branch {
                field: Field::Imm26,
                conditional: false,
                target,
            }
        } else {
            Rewrite::Call { target }
        });
    }
    // B.cond: 01010100 imm19 0 cond; BC.cond has bit 4 set.
    if word & 0xFF00_0000 == 0x5400_0000 {
        if word & 0x10 != 0 {
            return unsupported("BC.cond");
        }
        return Ok(Rewrite::Branch {
            field: Field::Imm19,
            conditional: true,
            target: rel(Field::Imm19),
        });
    }
    // CBZ / CBNZ: sf 011010 op imm19 Rt.
    if word & 0x7E00_0000 == 0x3400_0000 {
        return Ok(Rewrite::Branch {
            field: Field::Imm19,
            conditional: true,
            target: rel(Field::Imm19),
        });
    }
    // TBZ / TBNZ: b5 011011 op b40 imm14 Rt.
    if word & 0x7E00_0000 == 0x3600_0000 {
        return Ok(Rewrite::Branch {
            field: Field::Imm14,
            conditional: true,
            target: rel(Field::Imm14),
        });
    }
    // ADR / ADRP: op immlo 10000 immhi Rd.
    if word & 0x1F00_0000 == 0x1000_0000 {
        let imm = sign_extend(
            u64::from(((word >> 5) & 0x7_FFFF) << 2 | ((word >> 29) & 3)),
            21,
        );
        let rd = word & 0x1F;
        let value = if word & 0x8000_0000 == 0 {
            pc.wrapping_add(imm as u64)
        } else {
            (pc & !0xFFF).wrapping_add((imm << 12) as u64)
        };
        return Ok(Rewrite::Address { rd, value });
    }
    // Load register (literal): opc 011 V 00 imm19 Rt.
    if word & 0x3B00_0000 == 0x1800_0000 {
        let rt = word & 0x1F;
        let address = rel(Field::Imm19);
        let simd = word & 0x0400_0000 != 0;
        let load = match (simd, word >> 30) {
            (false, 0) => Load::W,
            (false, 1) => Load::X,
            (false, 2) => Load::Sw,
            (false, _) => return Ok(Rewrite::Prefetch),
            (true, 0) => Load::S,
            (true, 1) => Load::D,
            (true, 2) => Load::Q,
            (true, _) => return unsupported("unallocated SIMD&FP literal load"),
        };
        if !simd && rt == 31 {
            return unsupported("literal load into register 31");
        }
        return Ok(Rewrite::Literal { load, rt, address });
    }
    // Branches, exception generation and system instructions: x101 xxxx.
    if word & 0x1C00_0000 == 0x1400_0000 {
        // System instructions (hints, barriers, MSR/MRS, ...) are position-independent.
        if word & 0xFF00_0000 == 0xD500_0000 {
            return Ok(Rewrite::Verbatim);
        }
        if word & 0xFF00_0000 == 0xD400_0000 {
            return unsupported("exception-generating instruction");
        }
        // Unconditional branch (register): 1101011 ...
        if word & 0xFE00_0000 == 0xD600_0000 {
            return unsupported("indirect branch or return");
        }
        return unsupported("branch-class instruction with no rewrite rule");
    }
    Ok(Rewrite::Verbatim)
}

/// The shape of a found stub.
struct Stub {
    /// Offset of the stub's `ldr` from the entry (= the prologue's length).
    start: usize,
    /// The stub's register.
    reg: u32,
}

/// Reads the little-endian word at `offset`.
fn word_at(code: &[u8], offset: usize) -> Option<u32> {
    let bytes = code.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// Checks the stub at the end of `code` (see [`crate::arch::aarch64`]).
fn find_stub(code: &[u8]) -> Result<Stub, RelocError> {
    let malformed = RelocError::MalformedStub;
    if code.len() < STUB_LEN || code.len() % 4 != 0 {
        return Err(malformed);
    }
    let start = code.len() - STUB_LEN;
    let ldr = word_at(code, start).ok_or(malformed)?;
    let reg = ldr & 0x1F;
    let placeholder = code
        .get(start + 8..start + 16)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes);
    if ldr & !0x1F != STUB_LDR
        || reg == SCRATCH
        || reg == 31
        || word_at(code, start + 4) != Some(STUB_B)
        || placeholder != Some(PLACEHOLDER_64)
        || code.get(start + 16..) != Some(&MAGIC[..])
    {
        return Err(malformed);
    }
    Ok(Stub { start, reg })
}

/// Relocates a thunk template's prologue and stub.
///
/// `code` is the template from its entry through the **end** of the 16-byte magic (the
/// caller found the magic: it is exactly the last 16 bytes); `entry` is the absolute address
/// of `code[0]`. See the [module documentation](self) for the rules and the output layout.
///
/// # Errors
/// [`RelocError::MalformedStub`] if the stub does not have the expected shape (or `entry`
/// is not 4-byte aligned), [`RelocError::Decode`] if a prologue word cannot be decoded,
/// [`RelocError::Unsupported`] for a word that cannot be moved, [`RelocError::OutOfRange`]
/// if a displacement inside the copy does not fit, and [`RelocError::Disassembler`] if
/// Capstone cannot be initialised.
///
/// # Example
///
/// ```
/// use closure_ffi::arch::aarch64::reloc::relocate;
/// use closure_ffi::arch::aarch64::{MAGIC, PLACEHOLDER_64};
///
/// let words = |ws: &[u32]| ws.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>();
/// // sub sp, sp, #16; then the stub: ldr x8, #8; b #28; the placeholder; the magic.
/// let mut code = words(&[0xD100_43FF, 0x5800_0048, 0x1400_0007]);
/// code.extend_from_slice(&PLACEHOLDER_64.to_le_bytes());
/// code.extend_from_slice(&MAGIC);
///
/// let entry = 0x7000_1000;
/// let prepared = relocate(&code, entry)?;
/// // sub sp, sp, #16; ldr x8, slot (+12); ldr x16, continuation (+16); br x16
/// assert_eq!(prepared.code[..16], words(&[0xD100_43FF, 0x5800_0068, 0x5800_0090, 0xD61F_0200]));
/// assert_eq!(prepared.closure_slot, 16);
/// assert_eq!(prepared.code[24..32], (entry + code.len() as u64).to_le_bytes());
/// assert!(prepared.fixups.is_empty());
/// # Ok::<(), closure_ffi::thunk::RelocError>(())
/// ```
pub fn relocate(code: &[u8], entry: u64) -> Result<PreparedTemplate, RelocError> {
    let stub = find_stub(code)?;
    if entry % 4 != 0 {
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
        .ok_or(RelocError::OutOfRange { offset: stub.start })?;
    let prologue = &code[..stub.start];
    let rewrites = decode(prologue, entry)?;

    // Pass 1: where every original word (and the stub) lands.
    let inside = |target: u64| -> Option<usize> {
        let off = target.checked_sub(entry)?;
        (off <= stub.start as u64 && off % 4 == 0).then_some(off as usize)
    };
    // The stub's interior (its `b`, literal and magic) is never a valid target.
    let into_stub = |target: u64| target > entry + stub.start as u64 && target < continuation;
    let mut new_offsets = Vec::with_capacity(rewrites.len() + 1);
    let mut at = 0usize;
    for (i, rewrite) in rewrites.iter().enumerate() {
        new_offsets.push(at);
        if let Rewrite::Branch { target, .. } | Rewrite::Call { target } = *rewrite {
            if into_stub(target) {
                return Err(RelocError::Unsupported {
                    offset: 4 * i,
                    what: "branch into the stub",
                });
            }
        }
        let words = match *rewrite {
            Rewrite::Branch { target, .. } => rewrite.words(inside(target).is_some()),
            Rewrite::Call { target } => {
                if inside(target).is_some() {
                    return Err(RelocError::Unsupported {
                        offset: 4 * i,
                        what: "BL into the copied block",
                    });
                }
                rewrite.words(false)
            }
            _ => rewrite.words(false),
        };
        at += 4 * words;
    }
    let stub_new = at;
    new_offsets.push(stub_new);
    let code_end = stub_new + 12;
    let pool = code_end.next_multiple_of(POOL_ALIGN);

    // Pass 2: emit, with literals appended after the slot and the continuation.
    let mut out = Emitter {
        words: Vec::with_capacity(pool / 4),
        literals: alloc::vec![0, continuation],
        pool,
        fixups: Vec::new(),
    };
    for (i, rewrite) in rewrites.iter().enumerate() {
        let offset = 4 * i;
        let word = word_at(prologue, offset).ok_or(RelocError::Decode { offset })?;
        let out_of_range = RelocError::OutOfRange { offset };
        match *rewrite {
            Rewrite::Verbatim => out.push(word),
            Rewrite::Branch {
                field,
                conditional,
                target,
            } => match inside(target) {
                Some(old) => {
                    let disp = new_offsets[old / 4] as i64 - out.here() as i64;
                    out.push(field.write(word, disp).ok_or(out_of_range)?);
                }
                None if !conditional => out.branch_out(target),
                None => {
                    let cond_always = word & 0xFF00_0000 == 0x5400_0000 && word & 0xE == 0xE;
                    if cond_always {
                        out.push(NOP);
                    } else {
                        // Inverted: B.cond flips cond bit 0; CBZ/CBNZ and TBZ/TBNZ flip
                        // bit 24 (op). Skips the outward branch that follows.
                        let flip = if word & 0xFF00_0000 == 0x5400_0000 {
                            1
                        } else {
                            1 << 24
                        };
                        out.push(field.write(word ^ flip, 8).ok_or(out_of_range)?);
                    }
                    out.branch_out(target);
                }
            },
            Rewrite::Call { target } => {
                out.load_literal(SCRATCH, target)?;
                out.push(BLR | (SCRATCH << 5));
            }
            Rewrite::Address { rd, value } => out.load_literal(rd, value)?,
            Rewrite::Literal { load, rt, address } => match load {
                Load::W | Load::X | Load::Sw => {
                    out.load_literal(rt, address)?;
                    let base = match load {
                        Load::W => LDR_W_BASE,
                        Load::X => LDR_X_BASE,
                        _ => LDRSW_BASE,
                    };
                    out.push(base | (rt << 5) | rt);
                }
                Load::S | Load::D | Load::Q => {
                    let base = match load {
                        Load::S => LDR_S_BASE,
                        Load::D => LDR_D_BASE,
                        _ => LDR_Q_BASE,
                    };
                    out.push(PUSH_X16);
                    out.load_literal(SCRATCH, address)?;
                    out.push(base | (SCRATCH << 5) | rt);
                    out.push(POP_X16);
                }
            },
            Rewrite::Prefetch => out.push(NOP),
        }
        if out.here() != new_offsets[i + 1] {
            return Err(RelocError::Unsupported {
                offset,
                what: "rewrite length mismatch",
            });
        }
    }
    // The stub: ldr p, slot; ldr x16, continuation; br x16.
    out.load_pool(stub.reg, 0)?;
    out.load_pool(SCRATCH, 1)?;
    out.push(BR | (SCRATCH << 5));
    while out.here() < pool {
        out.push(POOL_PAD);
    }
    let mut bytes: Vec<u8> = out.words.iter().flat_map(|w| w.to_le_bytes()).collect();
    for literal in &out.literals {
        bytes.extend_from_slice(&literal.to_le_bytes());
    }
    Ok(PreparedTemplate {
        code: bytes.into_boxed_slice(),
        closure_slot: pool,
        fixups: out.fixups.into_boxed_slice(),
    })
}

/// Decodes the prologue with Capstone (every word must be a valid instruction) and
/// classifies each word.
fn decode(prologue: &[u8], entry: u64) -> Result<Vec<Rewrite>, RelocError> {
    let cs = Capstone::new()
        .arm64()
        .mode(ArchMode::Arm)
        .build()
        .map_err(|_| RelocError::Disassembler)?;
    let mut iter = cs
        .disasm_iter(prologue, entry)
        .map_err(|_| RelocError::Disassembler)?;
    let mut rewrites = Vec::with_capacity(prologue.len() / 4);
    let mut offset = 0;
    while offset < prologue.len() {
        let decode_error = RelocError::Decode { offset };
        let insn = iter.next().ok_or(decode_error)?;
        let word = word_at(prologue, offset).ok_or(decode_error)?;
        if insn.len() != 4 || insn.address() != entry.wrapping_add(offset as u64) {
            return Err(decode_error);
        }
        let pc = entry.wrapping_add(offset as u64);
        rewrites.push(classify(word, pc, offset)?);
        offset += 4;
    }
    Ok(rewrites)
}

/// The output words, the literal pool and the fixups being built.
struct Emitter {
    words: Vec<u32>,
    /// Pool entries: `[0]` the closure slot, `[1]` the continuation, then the rest.
    literals: Vec<u64>,
    /// Offset of the pool in the output.
    pool: usize,
    fixups: Vec<Fixup>,
}

impl Emitter {
    fn here(&self) -> usize {
        4 * self.words.len()
    }

    fn push(&mut self, word: u32) {
        self.words.push(word);
    }

    /// `ldr x<rt>, <pool entry index>`.
    fn load_pool(&mut self, rt: u32, index: usize) -> Result<(), RelocError> {
        let disp = (self.pool + 8 * index) as i64 - self.here() as i64;
        let word = Field::Imm19
            .write(LDR_X_LIT | rt, disp)
            .ok_or(RelocError::OutOfRange {
                offset: self.here(),
            })?;
        self.push(word);
        Ok(())
    }

    /// `ldr x<rt>, =value` through a new pool entry.
    fn load_literal(&mut self, rt: u32, value: u64) -> Result<(), RelocError> {
        self.literals.push(value);
        self.load_pool(rt, self.literals.len() - 1)
    }

    /// `B target`, patched per copy.
    fn branch_out(&mut self, target: u64) {
        self.fixups.push(Fixup::Branch26 {
            at: self.here(),
            target,
        });
        self.push(B);
    }
}

/// The `B` word at absolute address `at` that branches to `target`, or `None` if the target
/// is more than ±128 MiB away (or not word-aligned). Applies [`Fixup::Branch26`].
pub fn branch26(at: u64, target: u64) -> Option<u32> {
    Field::Imm26.write(B, target.wrapping_sub(at) as i64)
}

#[cfg(test)]
mod tests;
