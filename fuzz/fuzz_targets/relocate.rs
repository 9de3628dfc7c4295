//! Arbitrary bytes as a thunk template's prologue, relocated as thunk creation does
//! (`closure_ffi::arch::x86::reloc::relocate`, the function `arch::native::prepare` calls
//! once the stub is found), in both widths.
//!
//! Must hold: `relocate` returns (no panic, no hang), and when it succeeds the output is
//! what a thunk copy needs: the stub in place with its placeholder and the jump back, a
//! prologue that disassembles exactly up to the stub, and no position-dependent reference
//! left: every relative branch lands on an instruction of the copy (or has a fixup, i686
//! calls out), every RIP-relative operand reads the literal pool (x86_64).
//!
//! Input: one byte of flags, the entry address, a peek mode, then the prologue bytes (the
//! stub is appended); or, with the raw flag, the whole rest as the input to `relocate`.
#![no_main]

use capstone::arch::x86::{ArchMode, X86InsnGroup, X86OperandType, X86Reg};
use capstone::arch::{BuildsCapstone, DetailsArchInsn};
use capstone::Capstone;
use closure_ffi::arch::x86::reloc::{relocate, Bits, MAX_PROLOGUE_LEN};
use closure_ffi::arch::x86::{MAGIC, PLACEHOLDER_32, PLACEHOLDER_64};
use closure_ffi::thunk::{Fixup, PreparedTemplate};
use closure_ffi_fuzz::Reader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    let flags = r.u8();
    let bits = if flags & 1 == 0 { Bits::B64 } else { Bits::B32 };
    let near_jmp = flags & 2 != 0;
    let reg = (flags >> 2) & 0x0F;
    let raw_input = flags & 0x40 != 0;
    let raw_entry = r.u64();
    // Mostly a plausible code address; sometimes any value (out of range for i686, or one
    // whose continuation overflows).
    let entry = match (flags & 0x80 != 0, bits) {
        (true, _) => raw_entry,
        (false, Bits::B64) => 0x5555_0000_0000 | (raw_entry & 0xFFFF_FFFF),
        (false, Bits::B32) => 0x0800_0000 | (raw_entry & 0x0FFF_FFFF),
    };
    let peek_mode = r.u8();
    let peek_bytes: [u8; 4] = r.array();
    let peek = move |addr: u64| match peek_mode % 3 {
        0 => None,
        1 => Some(peek_bytes),
        // A get-PC helper at some targets only.
        _ => (addr & 1 == 0).then_some([0x8B, peek_bytes[1], 0x24, 0xC3]),
    };

    let code = if raw_input {
        r.rest().to_vec()
    } else {
        let prologue = r.rest();
        let prologue = &prologue[..prologue.len().min(MAX_PROLOGUE_LEN + 16)];
        let mut code = prologue.to_vec();
        match bits {
            Bits::B64 => {
                code.extend([0x48 | (reg >> 3), 0xB8 + (reg & 7)]);
                code.extend(PLACEHOLDER_64.to_le_bytes());
            }
            Bits::B32 => {
                code.push(0xB8 + (reg & 7));
                code.extend(PLACEHOLDER_32.to_le_bytes());
            }
        }
        if near_jmp {
            code.extend([0xE9, 0x10, 0, 0, 0]);
        } else {
            code.extend([0xEB, 0x10]);
        }
        code.extend(MAGIC);
        code
    };

    if let Ok(prepared) = relocate(bits, &code, entry, &peek) {
        check(bits, &code, entry, &prepared);
    }
});

/// Checks a successful relocation of `input` (entry at `entry`).
fn check(bits: Bits, input: &[u8], entry: u64, p: &PreparedTemplate) {
    let code = &p.code;
    let slot = p.closure_slot;
    let continuation = entry + input.len() as u64;
    // Where the copied stub's mov starts, and the jump back after its immediate.
    let (mov_at, jmp_at) = match bits {
        Bits::B64 => {
            assert!(slot >= 2, "closure slot {slot} leaves no room for movabs");
            assert!(
                matches!(code[slot - 2], 0x48 | 0x49),
                "stub REX {:#x}",
                code[slot - 2]
            );
            assert!((0xB8..=0xBF).contains(&code[slot - 1]), "stub opcode");
            assert_eq!(
                code[slot..slot + 8],
                PLACEHOLDER_64.to_le_bytes(),
                "placeholder"
            );
            assert_eq!(
                code[slot + 8..slot + 10],
                [0xFF, 0x25],
                "jump back is jmp [rip+d]"
            );
            assert!(
                p.fixups.is_empty(),
                "x86_64 output has fixups: {:?}",
                p.fixups
            );
            (slot - 2, slot + 8)
        }
        Bits::B32 => {
            assert!(slot >= 1);
            assert!((0xB8..=0xBF).contains(&code[slot - 1]), "stub opcode");
            assert_eq!(
                code[slot..slot + 4],
                PLACEHOLDER_32.to_le_bytes(),
                "placeholder"
            );
            assert_eq!(code[slot + 4], 0xE9, "jump back is jmp rel32");
            assert!(
                p.fixups.contains(&Fixup::Rel32 {
                    at: slot + 5,
                    target: continuation
                }),
                "no fixup for the jump back to {continuation:#x}: {:?}",
                p.fixups
            );
            assert_eq!(code.len(), slot + 9, "i686 output ends with the jump back");
            (slot - 1, slot + 4)
        }
    };
    for f in p.fixups.iter() {
        // The x86 relocator makes only rel32 fixups (Branch26 is aarch64's).
        let Fixup::Rel32 { at, .. } = *f else {
            panic!("x86 output with a non-x86 fixup: {f:?}");
        };
        assert!(at + 4 <= code.len(), "fixup at {at} past the end");
        assert!(
            at + 4 <= slot || at >= slot + 4,
            "fixup overlaps the closure slot"
        );
    }

    // Disassemble the copy at an arbitrary base: the prologue must decode exactly up to the
    // stub, and nothing in it may depend on where it is.
    let base: u64 = match bits {
        Bits::B64 => 0x7F00_1234_0000,
        Bits::B32 => 0x4000_0000,
    };
    let cs = Capstone::new()
        .x86()
        .mode(match bits {
            Bits::B64 => ArchMode::Mode64,
            Bits::B32 => ArchMode::Mode32,
        })
        .detail(true)
        .build()
        .expect("capstone");
    let insns = cs
        .disasm_all(&code[..jmp_at], base)
        .expect("disassembly of the output");
    let mut starts = Vec::new();
    let mut next = 0usize;
    for insn in insns.iter() {
        let off = (insn.address() - base) as usize;
        assert_eq!(off, next, "output does not decode contiguously at {off:#x}");
        starts.push(off);
        next = off + insn.len();
    }
    assert_eq!(
        next, jmp_at,
        "output prologue + stub does not decode up to the jump back"
    );
    assert!(
        starts.contains(&mov_at),
        "the stub's mov is not an instruction of the output"
    );
    // x86_64: int3 padding up to an 8-byte boundary, then the literals.
    let pool_start = (jmp_at + 6).next_multiple_of(8);
    if bits == Bits::B64 {
        assert!(code.len() > pool_start, "no literal pool");
        assert!(
            code[jmp_at + 6..pool_start].iter().all(|&b| b == 0xCC),
            "pool padding"
        );
    }

    for insn in insns.iter() {
        let off = (insn.address() - base) as usize;
        if off == mov_at {
            break;
        }
        let bytes = insn.bytes();
        let end = off + bytes.len();
        let detail = cs.insn_detail(insn).expect("detail");
        let groups: Vec<u32> = detail.groups().iter().map(|g| u32::from(g.0)).collect();
        let in_group = |g: u32| groups.contains(&g);
        for g in [
            X86InsnGroup::X86_GRP_RET,
            X86InsnGroup::X86_GRP_INT,
            X86InsnGroup::X86_GRP_IRET,
        ] {
            assert!(
                !in_group(g),
                "unmovable instruction copied at {off:#x}: {insn}"
            );
        }
        let rel32 =
            |at: usize| i64::from(i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()));
        // A relative branch must land on an instruction of the copy (or the stub's mov).
        let branch_inside = |disp: i64, what: &str| {
            let target = end as i64 + disp;
            assert!(
                target >= 0 && (starts.contains(&(target as usize))),
                "{what} at {off:#x} to {target:#x}, not an instruction of the copy: {insn}"
            );
            assert!(
                target as usize <= mov_at,
                "{what} at {off:#x} past the stub"
            );
        };
        match *bytes {
            [0xE9, ..] if bytes.len() == 5 => branch_inside(rel32(1), "jmp"),
            [0x0F, 0x80..=0x8F, ..] if bytes.len() == 6 => branch_inside(rel32(2), "jcc"),
            [0xE8, ..] if bytes.len() == 5 => {
                assert_eq!(bits, Bits::B32, "x86_64 output has call rel32 at {off:#x}");
                assert!(
                    p.fixups
                        .iter()
                        .any(|f| matches!(*f, Fixup::Rel32 { at, .. } if at == off + 1)),
                    "i686 call out at {off:#x} without a fixup"
                );
            }
            [0xFF, 0x15, ..] if bits == Bits::B64 && bytes.len() == 6 => {
                let lit = end as i64 + rel32(2);
                assert!(
                    lit >= pool_start as i64 && lit as usize + 8 <= code.len() && lit % 8 == 0,
                    "call [rip+d] at {off:#x} reads {lit:#x}, outside the literal pool"
                );
            }
            _ => {
                assert!(
                    !in_group(X86InsnGroup::X86_GRP_JUMP)
                        && !in_group(X86InsnGroup::X86_GRP_CALL)
                        && !in_group(X86InsnGroup::X86_GRP_BRANCH_RELATIVE),
                    "branch copied as is at {off:#x}: {insn}"
                );
                if bits == Bits::B64 {
                    let arch = detail.arch_detail();
                    let x86 = arch.x86().expect("x86 detail");
                    let rip = x86.operands().any(|op| match op.op_type {
                        X86OperandType::Mem(m) => {
                            let ip = |r: u16| {
                                let r = u32::from(r);
                                r == X86Reg::X86_REG_RIP || r == X86Reg::X86_REG_EIP
                            };
                            ip(m.base().0) || ip(m.index().0)
                        }
                        _ => false,
                    });
                    assert!(
                        !rip,
                        "RIP-relative operand left in the copy at {off:#x}: {insn}"
                    );
                }
            }
        }
    }

    if bits == Bits::B64 {
        // The jump back reads the continuation from the pool.
        let lit = (jmp_at + 6) as i64
            + i64::from(i32::from_le_bytes(
                code[jmp_at + 2..jmp_at + 6].try_into().unwrap(),
            ));
        assert!(
            lit >= pool_start as i64 && lit as usize + 8 <= code.len(),
            "jump back literal"
        );
        let value = u64::from_le_bytes(code[lit as usize..lit as usize + 8].try_into().unwrap());
        assert_eq!(value, continuation, "jump back goes to {value:#x}");
        assert_eq!(
            (code.len() - pool_start) % 8,
            0,
            "pool is not whole literals"
        );
    }
}
