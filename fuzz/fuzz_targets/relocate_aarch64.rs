//! Arbitrary words as an AArch64 thunk template's prologue, relocated as thunk creation does
//! (`closure_ffi::arch::aarch64::reloc::relocate`, which `arch::native::prepare` calls once
//! the stub is found). The relocator is host-independent, so this runs on x86_64.
//!
//! Must hold: `relocate` returns (no panic, no hang), and when it succeeds, the copy is what
//! a thunk needs, checked against this file's own model of the A64 PC-relative forms:
//! - the copy ends with the stub's `ldr p, slot`, `ldr x16, continuation`, `br x16`, the slot
//!   is an aligned pool entry and the continuation literal is `entry + input length`;
//! - every word of the copy's code decodes (Capstone), and no ADR/ADRP or BL is left;
//! - every relative branch of the copy lands on a word of the copy's code, or is a `B` with a
//!   `Branch26` fixup whose target is outside the prologue;
//! - every literal load of the copy reads the literal pool, within its bounds;
//! - each original ADR/ADRP becomes a literal load of the address the original computes, into
//!   the same register; each original literal load's address, and each outward `BL`'s target,
//!   is in the pool; each outward `B`/`B.cond`/`CBZ`/`TBZ` has a fixup to its target;
//! - every original word that is not PC-relative is in the copy, in order.
//!
//! Input: one byte of flags, the entry address, then the prologue's words (the stub is
//! appended); or, with the raw flag, the whole rest as the input to `relocate`.
#![no_main]

use capstone::arch::arm64::ArchMode;
use capstone::arch::BuildsCapstone;
use capstone::Capstone;
use closure_ffi::arch::aarch64::reloc::{relocate, MAX_PROLOGUE_LEN};
use closure_ffi::arch::aarch64::{MAGIC, PLACEHOLDER_64, STUB_B, STUB_LDR};
use closure_ffi::thunk::{Fixup, PreparedTemplate};
use closure_ffi_fuzz::Reader;
use libfuzzer_sys::fuzz_target;

/// `br x16`: the copy's jump back, the last word of its code.
const BR_X16: u32 = 0xD61F_0200;

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let flags = r.u8();
    let raw_input = flags & 1 != 0;
    let reg = u32::from((flags >> 1) & 0x0F); // the stub's register (never x16)
    let raw_entry = r.u64();
    // Mostly a plausible, word-aligned code address; sometimes any value (misaligned, or one
    // whose continuation overflows).
    let entry = if flags & 0x80 != 0 {
        raw_entry
    } else {
        0x5555_0000_0000 | (raw_entry & 0xFFFF_FFFC)
    };

    let code = if raw_input {
        r.rest().to_vec()
    } else {
        let prologue = r.rest();
        let words = prologue.len().min(MAX_PROLOGUE_LEN + 16) / 4;
        let mut code = prologue[..4 * words].to_vec();
        code.extend((STUB_LDR | reg).to_le_bytes());
        code.extend(STUB_B.to_le_bytes());
        code.extend(PLACEHOLDER_64.to_le_bytes());
        code.extend(MAGIC);
        code
    };

    if let Ok(prepared) = relocate(&code, entry) {
        check(&code, entry, &prepared);
    }
});

/// A PC-relative form of the model, with the absolute address it refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PcRel {
    /// `B` (imm26).
    B(u64),
    /// `BL` (imm26).
    Bl(u64),
    /// `B.cond`, `CBZ`/`CBNZ`, `TBZ`/`TBNZ`.
    Cond(u64),
    /// `ADR`/`ADRP` into register `rd`: the address (or page) it computes.
    Adr { rd: u32, value: u64 },
    /// A literal load (`LDR`, `LDRSW`, SIMD&FP `LDR`, `PRFM`) of `len` bytes at the address.
    Lit { addr: u64, len: u64 },
}

fn sext(value: u32, bits: u32) -> i64 {
    let shift = 64 - bits;
    (i64::from(value) << shift) >> shift
}

/// The model: what `word` at address `pc` refers to, if it is PC-relative.
fn pc_rel(word: u32, pc: u64) -> Option<PcRel> {
    let imm19 = || pc.wrapping_add((sext((word >> 5) & 0x7FFFF, 19) * 4) as u64);
    if word & 0x7C00_0000 == 0x1400_0000 {
        let target = pc.wrapping_add((sext(word & 0x03FF_FFFF, 26) * 4) as u64);
        return Some(if word >> 31 == 0 {
            PcRel::B(target)
        } else {
            PcRel::Bl(target)
        });
    }
    if word & 0xFF00_0010 == 0x5400_0000 || word & 0x7E00_0000 == 0x3400_0000 {
        return Some(PcRel::Cond(imm19()));
    }
    if word & 0x7E00_0000 == 0x3600_0000 {
        let target = pc.wrapping_add((sext((word >> 5) & 0x3FFF, 14) * 4) as u64);
        return Some(PcRel::Cond(target));
    }
    if word & 0x1F00_0000 == 0x1000_0000 {
        let imm = (((word >> 5) & 0x7FFFF) << 2) | ((word >> 29) & 3);
        let imm = sext(imm, 21);
        let value = if word >> 31 == 0 {
            pc.wrapping_add(imm as u64)
        } else {
            (pc & !0xFFF).wrapping_add((imm << 12) as u64)
        };
        return Some(PcRel::Adr {
            rd: word & 0x1F,
            value,
        });
    }
    if word & 0x3B00_0000 == 0x1800_0000 {
        let (opc, simd) = (word >> 30, word & (1 << 26) != 0);
        let len = match (simd, opc) {
            (false, 0) | (false, 2) | (true, 0) => 4,
            (false, 1) | (true, 1) => 8,
            (true, 2) => 16,
            (false, _) => 0, // PRFM: reads nothing
            (true, _) => return None,
        };
        return Some(PcRel::Lit { addr: imm19(), len });
    }
    None
}

fn word_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Checks a successful relocation of `input` (entry at `entry`).
fn check(input: &[u8], entry: u64, p: &PreparedTemplate) {
    let code = &p.code;
    assert_eq!(code.len() % 4, 0, "output length {}", code.len());
    // The stub is the last 32 bytes (the relocator refuses anything else).
    let stub = input.len() - 32;
    let continuation = entry + input.len() as u64;

    // The code part ends with the jump back: the first `br x16` (the relocator refuses every
    // register branch of the prologue, so none is copied).
    let code_end = (0..code.len() / 4)
        .map(|i| 4 * i)
        .find(|&at| word_at(code, at) == BR_X16)
        .expect("no jump back")
        + 4;
    assert!(
        code_end >= 12,
        "no room for the stub's load and the jump back"
    );
    let pool = code_end.next_multiple_of(8);
    for at in (code_end..pool).step_by(4) {
        assert_eq!(word_at(code, at), 0, "pool padding at {at} is not udf #0");
    }
    let pool_u64 = |at: usize| u64::from_le_bytes(code[at..at + 8].try_into().unwrap());
    let pool_values: Vec<u64> = (pool..code.len() - 7).step_by(8).map(pool_u64).collect();

    // Addresses in the copy are offsets from 0 (a copy at 0 is as good as anywhere: nothing
    // in it may depend on where it is, and fixups are checked separately).
    let lit = |at: usize| match pc_rel(word_at(code, at), at as u64) {
        Some(PcRel::Lit { addr, len }) => (addr, len),
        other => panic!("word at {at} is {other:?}, not a literal load"),
    };
    let (slot_addr, slot_len) = lit(code_end - 12);
    assert_eq!(
        slot_addr as usize, p.closure_slot,
        "the stub loads the slot"
    );
    assert_eq!(slot_len, 8);
    assert_eq!(
        word_at(code, code_end - 12) & 0x1F,
        word_at(input, stub) & 0x1F,
        "the stub's register"
    );
    assert!(
        p.closure_slot >= pool && p.closure_slot % 8 == 0 && p.closure_slot + 8 <= code.len(),
        "closure slot {} is not an aligned pool entry",
        p.closure_slot
    );
    let (cont_addr, _) = lit(code_end - 8);
    assert_eq!(
        word_at(code, code_end - 8) & 0x1F,
        16,
        "ldr x16, continuation"
    );
    assert_eq!(pool_u64(cont_addr as usize), continuation, "continuation");

    // Every code word decodes, and its references stay in the copy.
    let cs = Capstone::new()
        .arm64()
        .mode(ArchMode::Arm)
        .build()
        .expect("capstone");
    let fixup_at = |at: usize| {
        p.fixups.iter().find_map(|f| match *f {
            Fixup::Branch26 { at: a, target } if a == at => Some(target),
            _ => None,
        })
    };
    for at in (0..code_end).step_by(4) {
        let word = word_at(code, at);
        let insns = cs
            .disasm_count(&code[at..at + 4], at as u64, 1)
            .expect("capstone");
        assert_eq!(
            insns.len(),
            1,
            "copy word {word:#010x} at {at} does not decode"
        );
        let in_code = |t: u64| t % 4 == 0 && t < code_end as u64;
        match pc_rel(word, at as u64) {
            None => {}
            Some(PcRel::B(t)) => assert!(
                in_code(t) || fixup_at(at).is_some(),
                "B at {at} to {t:#x}, outside the copy, without a fixup"
            ),
            Some(PcRel::Cond(t)) => assert!(in_code(t), "branch at {at} to {t:#x}"),
            Some(other @ (PcRel::Bl(_) | PcRel::Adr { .. })) => {
                panic!("{other:?} left in the copy at {at}")
            }
            Some(PcRel::Lit { addr, len }) => assert!(
                addr >= pool as u64 && addr + len <= code.len() as u64,
                "literal load at {at} reads {addr:#x}+{len} outside the pool"
            ),
        }
    }
    for f in p.fixups.iter() {
        let Fixup::Branch26 { at, target } = *f else {
            panic!("aarch64 output with a non-aarch64 fixup: {f:?}");
        };
        assert!(at % 4 == 0 && at < code_end, "fixup at {at}");
        assert_eq!(word_at(code, at) & 0xFC00_0000, 0x1400_0000, "fixup on a B");
        let off = target.wrapping_sub(entry);
        assert!(
            target % 4 == 0 && (off > stub as u64 || off % 4 != 0 || target < entry),
            "fixup to {target:#x}, inside the prologue"
        );
    }

    // The original prologue against the copy.
    let mut copy_words = (0..code_end).step_by(4).map(|at| word_at(code, at));
    for at in (0..stub).step_by(4) {
        let word = word_at(input, at);
        let pc = entry + at as u64;
        let inside = |t: u64| t >= entry && t - entry <= stub as u64 && (t - entry) % 4 == 0;
        match pc_rel(word, pc) {
            None => assert!(
                copy_words.any(|w| w == word),
                "original word {word:#010x} at {at} missing from the copy (or out of order)"
            ),
            Some(PcRel::B(t) | PcRel::Cond(t)) if !inside(t) => assert!(
                p.fixups
                    .iter()
                    .any(|f| matches!(*f, Fixup::Branch26 { target, .. } if target == t)),
                "outward branch at {at} to {t:#x} has no fixup"
            ),
            Some(PcRel::Bl(t)) => {
                assert!(pool_values.contains(&t), "BL target {t:#x} not in the pool")
            }
            Some(PcRel::Adr { rd, value }) => {
                let found = (0..code_end).step_by(4).any(|c| {
                    let w = word_at(code, c);
                    matches!(pc_rel(w, c as u64), Some(PcRel::Lit { addr, len: 8 })
                        if w & 0xFF00_001F == 0x5800_0000 | rd
                            && pool_u64(addr as usize) == value)
                });
                assert!(found, "ADR/ADRP at {at}: no ldr x{rd} of {value:#x}");
            }
            Some(PcRel::Lit { len: 0, .. }) => {} // PRFM: a hint, dropped
            Some(PcRel::Lit { addr, .. }) => assert!(
                pool_values.contains(&addr),
                "literal address {addr:#x} (load at {at}) not in the pool"
            ),
            Some(PcRel::B(_) | PcRel::Cond(_)) => {}
        }
    }
}
