//! Golden tests of the 32-bit Arm relocator (A32 and T32): host-independent (they run on
//! x86_64 too).
//!
//! Input encodings were assembled with GNU as (`arm-linux-gnueabihf-as -march=armv7-a
//! -mfpu=vfpv3`, `.arm` and `.thumb`); branches and calls to absolute addresses are built
//! with the relocator's own field helpers (checked against Capstone below). The expected
//! output is checked as Capstone's disassembly of the copy placed at address 0, so a wrong
//! displacement reads as a wrong address, and pool entries are checked as values.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::*;
use crate::arch::arm::{MAGIC_A32, MAGIC_T32};

/// Where the templates of these tests live.
const ENTRY: u64 = 0x4000_1000;
/// A function outside the template, within reach of a T32 `BL` (±16 MiB).
const FAR: u32 = 0x3F80_1000;

fn bytes_a32(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn bytes_t32(halves: &[u16]) -> Vec<u8> {
    halves.iter().flat_map(|h| h.to_le_bytes()).collect()
}

/// A32: `prologue`, then the stub loading into r`reg`.
fn template_a32(prologue: &[u32], reg: u32) -> Vec<u8> {
    let mut code = bytes_a32(prologue);
    code.extend_from_slice(&bytes_a32(&[
        STUB_MOVW_A32 | reg << 12,
        STUB_MOVT_A32 | reg << 12,
        STUB_B_A32,
    ]));
    code.extend_from_slice(&MAGIC_A32);
    code
}

/// T32: `prologue` (halfwords), then the stub loading into r`reg`.
fn template_t32(prologue: &[u16], reg: u16) -> Vec<u8> {
    let mut code = bytes_t32(prologue);
    code.extend_from_slice(&bytes_t32(&[
        STUB_MOVW_T32[0],
        STUB_MOVW_T32[1] | reg << 8,
        STUB_MOVT_T32[0],
        STUB_MOVT_T32[1] | reg << 8,
        STUB_B_T32[0],
        STUB_B_T32[1],
    ]));
    code.extend_from_slice(&MAGIC_T32);
    code
}

fn reloc_a32(prologue: &[u32]) -> Result<PreparedTemplate, RelocError> {
    relocate(Mode::Arm, &template_a32(prologue, 4), ENTRY)
}

fn reloc_t32(prologue: &[u16]) -> Result<PreparedTemplate, RelocError> {
    relocate(Mode::Thumb, &template_t32(prologue, 4), ENTRY)
}

/// Pool entry `index` (0 = closure slot, 1 = continuation, 2.. = literals).
fn literal(p: &PreparedTemplate, index: usize) -> u32 {
    let at = p.closure_slot + 4 * index;
    u32::from_le_bytes(p.code[at..at + 4].try_into().unwrap())
}

/// Capstone's text for each instruction of the copy placed at address 0 (up to the pool;
/// T32 pool padding excluded).
fn disasm(mode: Mode, p: &PreparedTemplate) -> Vec<String> {
    let cs = Capstone::new()
        .arm()
        .mode(match mode {
            Mode::Arm => ArchMode::Arm,
            Mode::Thumb => ArchMode::Thumb,
        })
        .build()
        .unwrap();
    let mut code = &p.code[..p.closure_slot];
    if mode == Mode::Thumb && code.ends_with(&T32_POOL_PAD.to_le_bytes()) {
        code = &code[..code.len() - 2];
    }
    let insns = cs.disasm_all(code, 0).unwrap();
    let decoded: usize = insns.iter().map(|i| i.len()).sum();
    assert_eq!(decoded, code.len(), "every output instruction decodes");
    insns
        .iter()
        .map(|i| format!("{} {}", i.mnemonic().unwrap(), i.op_str().unwrap_or("")))
        .map(|s| String::from(s.trim_end()))
        .collect()
}

fn unsupported(r: Result<PreparedTemplate, RelocError>) -> (usize, &'static str) {
    match r {
        Err(RelocError::Unsupported { offset, what }) => (offset, what),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

/// A32 `B<cond>` / `BL<cond>` (`link`) at `at` to `target`.
fn a32_b(cond: u32, link: bool, at: u64, target: u64) -> u32 {
    let imm = (target as i64 - (at as i64 + 8)) / 4;
    cond << 28 | 0x0A00_0000 | u32::from(link) << 24 | (imm as u32 & 0xFF_FFFF)
}

/// T32 `BL` (`link`) or `B.W` at `at` to `target`.
fn t32_bw(link: bool, at: u64, target: u64) -> [u16; 2] {
    let [h1, h2] = t32_branch(target as i64 - (at as i64 + 4), None).unwrap();
    [h1, if link { h2 | 0x4000 } else { h2 }]
}

#[test]
fn bare_stub_a32() {
    let code = template_a32(&[], 4);
    let p = relocate(Mode::Arm, &code, ENTRY).unwrap();
    assert_eq!(disasm(Mode::Arm, &p), ["ldr r4, [pc]", "ldr pc, [pc]"]);
    assert_eq!(p.closure_slot, 8);
    assert_eq!(p.code.len(), 16);
    assert_eq!(literal(&p, 1), ENTRY as u32 + 28);
    assert!(p.fixups.is_empty());
}

#[test]
fn bare_stub_t32() {
    let code = template_t32(&[], 4);
    let p = relocate(Mode::Thumb, &code, ENTRY).unwrap();
    assert_eq!(
        disasm(Mode::Thumb, &p),
        ["ldr.w r4, [pc, #4]", "ldr.w pc, [pc, #4]"]
    );
    assert_eq!(p.closure_slot, 8);
    // The continuation is T32 code: bit 0 set for the interworking load into pc.
    assert_eq!(literal(&p, 1), (ENTRY as u32 + 28) | 1);
}

#[test]
fn stub_register_is_kept() {
    for reg in [0, 3, 8, 12, 14] {
        let p = relocate(Mode::Arm, &template_a32(&[], reg), ENTRY).unwrap();
        assert_eq!(
            p.code[..4],
            (A32_LDR_LIT | 0xE000_0000 | reg << 12).to_le_bytes()
        );
        let p = relocate(Mode::Thumb, &template_t32(&[], reg as u16), ENTRY).unwrap();
        assert_eq!(p.code[2..4], ((reg as u16) << 12 | 4).to_le_bytes());
    }
}

#[test]
fn position_independent_code_is_copied() {
    // push {r4, r5, fp, lr}; add fp, sp, #8; sub sp, sp, #16; str r0, [sp, #4]
    let prologue = [0xE92D_4830, 0xE28D_B008, 0xE24D_D010, 0xE58D_0004];
    let p = reloc_a32(&prologue).unwrap();
    assert_eq!(p.code[..16], bytes_a32(&prologue));
    assert_eq!(literal(&p, 1), ENTRY as u32 + 16 + 28);
    // push {r4, r5, r7, lr}; add r7, sp, #8; sub sp, #16; str.w r0, [sp, #4]
    let prologue = [0xB5B0, 0xAF02, 0xB084, 0xF8CD, 0x0004];
    let p = reloc_t32(&prologue).unwrap();
    assert_eq!(p.code[..10], bytes_t32(&prologue));
    assert_eq!(
        disasm(Mode::Thumb, &p)[4..],
        ["ldr.w r4, [pc, #8]", "ldr.w pc, [pc, #8]"]
    );
}

#[test]
fn a32_branches_inside_get_new_displacements() {
    // b stub; ldr r2, [pc, #12] (two words when moved); bne stub
    let stub = ENTRY + 12;
    let prologue = [
        a32_b(0xE, false, ENTRY, stub),
        0xE59F_200C,
        a32_b(0x1, false, ENTRY + 8, stub),
    ];
    let p = reloc_a32(&prologue).unwrap();
    let text = disasm(Mode::Arm, &p);
    assert_eq!(text[0], "b #0x10");
    assert_eq!(text[3], "bne #0x10");
    assert_eq!(text[4], "ldr r4, [pc]");
}

#[test]
fn a32_branches_out_load_pc() {
    let prologue = [
        a32_b(0xE, false, ENTRY, u64::from(FAR)),
        a32_b(0x1, false, ENTRY + 4, u64::from(FAR) + 8),
    ];
    let p = reloc_a32(&prologue).unwrap();
    let text = disasm(Mode::Arm, &p);
    // Pool at 16: slot, continuation, FAR, FAR + 8.
    assert_eq!(text[..2], ["ldr pc, [pc, #0x10]", "ldrne pc, [pc, #0x10]"]);
    assert_eq!((literal(&p, 2), literal(&p, 3)), (FAR, FAR + 8));
}

#[test]
fn a32_calls_out_go_through_ip() {
    let blx = {
        // blx FAR + 0x100 (T32 callee, H = 0).
        let imm = (i64::from(FAR) + 0x100 - (ENTRY as i64 + 8 + 8)) / 4;
        0xFA00_0000 | (imm as u32 & 0xFF_FFFF)
    };
    let prologue = [
        a32_b(0xE, true, ENTRY, u64::from(FAR)),
        a32_b(0x1, true, ENTRY + 4, u64::from(FAR)),
        blx,
    ];
    let p = reloc_a32(&prologue).unwrap();
    let text = disasm(Mode::Arm, &p);
    assert_eq!(
        text[..6],
        [
            "ldr ip, [pc, #0x20]",
            "blx ip",
            "ldrne ip, [pc, #0x1c]",
            "blxne ip",
            "ldr ip, [pc, #0x18]",
            "blx ip"
        ]
    );
    assert_eq!(literal(&p, 2), FAR);
    assert_eq!(literal(&p, 3), FAR);
    assert_eq!(
        literal(&p, 4),
        FAR + 0x100 + 1,
        "BLX targets T32: bit 0 set"
    );
}

#[test]
fn call_into_the_block_or_the_stub_is_refused() {
    let p = reloc_a32(&[0xE1A0_0000, a32_b(0xE, true, ENTRY + 4, ENTRY)]);
    assert_eq!(unsupported(p), (4, "call into the copied block"));
    // A branch to the stub's `b` (inside the stub, not its start).
    let p = reloc_a32(&[a32_b(0xE, false, ENTRY, ENTRY + 4 + 8)]);
    assert_eq!(
        unsupported(p),
        (0, "branch into the stub or into an instruction")
    );
    let [h1, h2] = t32_bw(true, ENTRY, ENTRY);
    assert_eq!(
        unsupported(reloc_t32(&[h1, h2])),
        (0, "call into the copied block")
    );
}

#[test]
fn a32_literal_loads_load_the_address_then_the_value() {
    let prologue = [
        0xE51F_200C, // ldr r2, [pc, #-12]   -> ENTRY + 8 - 12
        0xE5DF_3004, // ldrb r3, [pc, #4]    -> ENTRY + 4 + 12
        0xE1DF_30B4, // ldrh r3, [pc, #4]
        0xE15F_30D4, // ldrsb r3, [pc, #-4]
        0xE1DF_30F4, // ldrsh r3, [pc, #4]
        0xE1CF_20D8, // ldrd r2, r3, [pc, #8]
        0x059F_200C, // ldreq r2, [pc, #12]
    ];
    let p = reloc_a32(&prologue).unwrap();
    let text = disasm(Mode::Arm, &p);
    let loads: Vec<&str> = text
        .iter()
        .skip(1)
        .step_by(2)
        .take(7)
        .map(String::as_str)
        .collect();
    assert_eq!(
        loads,
        [
            "ldr r2, [r2]",
            "ldrb r3, [r3]",
            "ldrh r3, [r3]",
            "ldrsb r3, [r3]",
            "ldrsh r3, [r3]",
            "ldrd r2, r3, [r2]",
            "ldreq r2, [r2]"
        ]
    );
    assert!(text[12].starts_with("ldreq r2, [pc"), "{text:?}");
    let entry = ENTRY as u32;
    let expected = [
        entry - 4,
        entry + 4 + 12,
        entry + 8 + 12,
        entry + 12 + 4,
        entry + 16 + 12,
        entry + 20 + 16,
        entry + 24 + 20,
    ];
    for (i, address) in expected.into_iter().enumerate() {
        assert_eq!(literal(&p, 2 + i), address, "literal {i}");
    }
}

#[test]
fn a32_adr_becomes_a_literal_load() {
    let prologue = [
        0xE28F_1038, // add r1, pc, #56
        0xE24F_1010, // sub r1, pc, #16
        0x028F_1B01, // addeq r1, pc, #0x400 (rotated immediate)
    ];
    let p = reloc_a32(&prologue).unwrap();
    let text = disasm(Mode::Arm, &p);
    assert!(text[0].starts_with("ldr r1, [pc"), "{text:?}");
    assert!(text[2].starts_with("ldreq r1, [pc"), "{text:?}");
    let entry = ENTRY as u32;
    assert_eq!(literal(&p, 2), entry + 8 + 56);
    assert_eq!(literal(&p, 3), entry + 4 + 8 - 16);
    assert_eq!(literal(&p, 4), entry + 8 + 8 + 0x400);
}

#[test]
fn prefetch_becomes_nop() {
    let p = reloc_a32(&[0xF5DF_F008]).unwrap(); // pld [pc, #8]
    assert_eq!(disasm(Mode::Arm, &p)[0], "nop");
    let p = reloc_t32(&[0xF89F, 0xF008]).unwrap(); // pld [pc, #8]
    assert_eq!(disasm(Mode::Thumb, &p)[0], "nop.w");
}

#[test]
fn a32_unrelocatable_instructions_are_refused() {
    let pc = "instruction that reads or writes pc, or branches";
    let cases: [(u32, &str); 8] = [
        (0xE12F_FF1E, pc), // bx lr
        (0xE1A0_F00E, pc), // mov pc, lr
        (0xE8BD_8010, pc), // pop {r4, pc}
        (0xE08F_0000, pc), // add r0, pc, r0
        (0xE59F_F004, "literal load into pc"),
        (0xE59F_D004, "literal load into sp"),
        (0xEF00_0000, pc), // svc #0
        (0xE12F_FF33, pc), // blx r3
    ];
    for (word, what) in cases {
        assert_eq!(
            unsupported(reloc_a32(&[0xE1A0_0000, word])),
            (4, what),
            "{word:#x}"
        );
    }
}

#[test]
fn t32_branches_inside_are_widened() {
    // b.n stub; beq.n stub; cbz r3, stub; ldr r2, [pc, #8] (grows by 4); stub:
    let prologue = [0xE002, 0xD001, 0xB103, 0x4A02];
    let p = reloc_t32(&prologue).unwrap();
    let text = disasm(Mode::Thumb, &p);
    // New stub offset: 4 + 4 + 2 + 6 = 16.
    assert_eq!(text[..3], ["b.w #0x10", "beq.w #0x10", "cbz r3, #0x10"]);
    assert!(text[5].starts_with("ldr.w r4, [pc"), "{text:?}");
}

#[test]
fn t32_branches_out_load_pc_with_the_thumb_bit() {
    let far = u64::from(FAR);
    let [h1, h2] = t32_bw(false, ENTRY, far);
    let bne_w = {
        // bne.w reaches ±1 MiB: a target 512 KiB above.
        let [h1, h2] = t32_branch(0x8_0000 - 4, Some(1)).unwrap();
        [h1, h2]
    };
    // b.w FAR; bne.w ...; cbnz r2, +126 (past the stub and its magic)
    let prologue = [h1, h2, bne_w[0], bne_w[1], 0xBBFA];
    let p = reloc_t32(&prologue).unwrap();
    let text = disasm(Mode::Thumb, &p);
    assert!(text[0].starts_with("ldr.w pc, [pc"), "{text:?}");
    // bne -> beq over the load (to 4 + 6 = 10).
    assert_eq!(text[1], "beq #0xa");
    assert!(text[2].starts_with("ldr.w pc, [pc"), "{text:?}");
    // cbnz r2 -> cbz r2 over the load (to 10 + 6 = 16).
    assert_eq!(text[3], "cbz r2, #0x10");
    assert_eq!(literal(&p, 2), FAR | 1);
    assert_eq!(literal(&p, 3), (ENTRY as u32 + 4 + 0x8_0000) | 1);
    assert_eq!(literal(&p, 4), (ENTRY as u32 + 12 + 126) | 1);
    // cbnz r2, +4 alone: PC = ENTRY + 4, target ENTRY + 8, inside the stub (at ENTRY + 2).
    assert_eq!(
        unsupported(reloc_t32(&[0xB912])),
        (0, "branch into the stub or into an instruction")
    );
}

#[test]
fn t32_calls_out_go_through_ip() {
    let far = u64::from(FAR);
    let bl = t32_bw(true, ENTRY, far);
    // blx FAR (A32 callee): from Align(PC, 4); bit 12 clear, H = 0.
    let blx = {
        let pc = (ENTRY + 4 + 4) & !3;
        let [h1, h2] = t32_branch(far as i64 - pc as i64, None).unwrap();
        [h1, (h2 | 0x4000) & !0x1000]
    };
    let p = reloc_t32(&[bl[0], bl[1], blx[0], blx[1]]).unwrap();
    let text = disasm(Mode::Thumb, &p);
    assert_eq!(text[1], "blx ip");
    assert_eq!(text[3], "blx ip");
    assert_eq!(literal(&p, 2), FAR | 1, "BL: T32 callee");
    assert_eq!(literal(&p, 3), FAR, "BLX: A32 callee");
}

#[test]
fn t32_literal_loads_use_aligned_pc() {
    // At ENTRY + 2 (PC = ENTRY + 6, Align(PC, 4) = ENTRY + 4): ldr r2, [pc, #8].
    let prologue = [
        0xBF00, // nop
        0x4A02, // ldr r2, [pc, #8]           -> ENTRY + 4 + 8
        0xF85F, 0x200C, // ldr.w r2, [pc, #-12] at +4 -> ENTRY + 8 - 12
        0xF89F, 0x3004, // ldrb.w r3, [pc, #4] at +8
        0xF8BF, 0x3004, // ldrh.w
        0xF91F, 0x3004, // ldrsb.w r3, [pc, #-4] at +16
        0xF9BF, 0x3004, // ldrsh.w at +20
        0xE9DF, 0x2302, // ldrd r2, r3, [pc, #8] at +24
    ];
    let p = reloc_t32(&prologue).unwrap();
    let text = disasm(Mode::Thumb, &p);
    let loads: Vec<&str> = text
        .iter()
        .skip(2)
        .step_by(2)
        .take(7)
        .map(String::as_str)
        .collect();
    assert_eq!(
        loads,
        [
            "ldr r2, [r2]",
            "ldr.w r2, [r2]",
            "ldrb.w r3, [r3]",
            "ldrh.w r3, [r3]",
            "ldrsb.w r3, [r3]",
            "ldrsh.w r3, [r3]",
            "ldrd r2, r3, [r2]"
        ]
    );
    let entry = ENTRY as u32;
    let expected = [
        entry + 4 + 8,
        entry + 8 - 12,
        entry + 12 + 4,
        entry + 16 + 4,
        entry + 20 - 4,
        entry + 24 + 4,
        entry + 28 + 8,
    ];
    for (i, address) in expected.into_iter().enumerate() {
        assert_eq!(literal(&p, 2 + i), address, "literal {i}");
    }
}

#[test]
fn t32_adr_becomes_a_literal_load() {
    let prologue = [
        0xA10F, // adr r1, #60 (at +0: Align(ENTRY + 4, 4) + 60)
        0xF2AF, 0x0112, // subw r1, pc, #18 (at +2)
        0xF20F, 0x4100, // addw r1, pc, #0x400 (at +6)
    ];
    let p = reloc_t32(&prologue).unwrap();
    let entry = ENTRY as u32;
    assert_eq!(literal(&p, 2), entry + 4 + 60);
    assert_eq!(literal(&p, 3), entry + 4 - 18);
    assert_eq!(literal(&p, 4), entry + 8 + 0x400);
    assert!(disasm(Mode::Thumb, &p)[..3]
        .iter()
        .all(|t| t.starts_with("ldr.w r1, [pc")));
}

#[test]
fn t32_unrelocatable_instructions_are_refused() {
    let pc = "instruction that reads or writes pc, or branches";
    let cases: [(&[u16], &str); 8] = [
        (&[0x4770], pc), // bx lr
        (&[0x46F7], pc), // mov pc, lr
        (&[0xBD10], pc), // pop {r4, pc}
        (&[0x4478], pc), // add r0, pc
        (&[0xF8DF, 0xF004], "literal load into pc"),
        (&[0xDF00], pc),         // svc #0
        (&[0xE8DF, 0xF000], pc), // tbb [pc, r0]
        (&[0x4798], pc),         // blx r3
    ];
    for (halves, what) in cases {
        let mut prologue = alloc::vec![0xBF00];
        prologue.extend_from_slice(halves);
        assert_eq!(unsupported(reloc_t32(&prologue)), (2, what), "{halves:x?}");
    }
}

#[test]
fn t32_it_blocks() {
    // it eq; moveq r0, r1: copied.
    let p = reloc_t32(&[0xBF08, 0x4608]).unwrap();
    assert_eq!(disasm(Mode::Thumb, &p)[..2], ["it eq", "moveq r0, r1"]);
    // ite ne; movne r0, #1; ldreq r2, [pc, #12]: the load cannot be rewritten in the block.
    assert_eq!(
        unsupported(reloc_t32(&[0xBF14, 0x2001, 0x4A03])),
        (0, "IT block around a PC-relative instruction")
    );
    // ite ne; movne r0, #1; then the stub: the block would cover the stub's movw.
    assert_eq!(
        unsupported(reloc_t32(&[0xBF14, 0x2001])),
        (0, "IT block reaching into the stub")
    );
}

#[test]
fn undecodable_is_a_decode_error() {
    // A32 0xF7F0_0000 is unallocated in the unconditional space... use a known invalid word:
    // cond 1111 + 0000 0xxx (unallocated).
    assert!(matches!(
        reloc_a32(&[0xF000_0000]),
        Err(RelocError::Decode { offset: 0 })
    ));
}

#[test]
fn malformed_stubs_are_refused() {
    let good = template_a32(&[0xE1A0_0000], 4);
    assert!(relocate(Mode::Arm, &good, ENTRY).is_ok());
    assert!(matches!(
        relocate(Mode::Thumb, &good, ENTRY),
        Err(RelocError::MalformedStub)
    ));
    // Misaligned entry, wrong placeholder, register pc, truncated, not a multiple of 4.
    assert!(relocate(Mode::Arm, &good, ENTRY + 2).is_err());
    let mut bad = good.clone();
    bad[4] ^= 1;
    assert_eq!(
        relocate(Mode::Arm, &bad, ENTRY),
        Err(RelocError::MalformedStub)
    );
    let pc = template_a32(&[], 15);
    assert_eq!(
        relocate(Mode::Arm, &pc, ENTRY),
        Err(RelocError::MalformedStub)
    );
    let cut = &good[..good.len() - 4];
    assert_eq!(
        relocate(Mode::Arm, cut, ENTRY),
        Err(RelocError::MalformedStub)
    );
    assert_eq!(
        relocate(Mode::Arm, &good[1..], ENTRY),
        Err(RelocError::MalformedStub)
    );
    let thumb = template_t32(&[0xBF00], 4);
    assert!(relocate(Mode::Thumb, &thumb, ENTRY + 2).is_ok());
    assert!(relocate(Mode::Thumb, &thumb, ENTRY + 1).is_err());
}

#[test]
fn long_prologues_are_refused() {
    let nops = alloc::vec![0xE1A0_0000; MAX_PROLOGUE_LEN / 4 + 1];
    assert!(matches!(
        reloc_a32(&nops),
        Err(RelocError::Unsupported { .. })
    ));
    // Literal loads that double in size push the pool beyond a literal load's 4 KiB reach.
    let loads = alloc::vec![0xE59F_200C; 600];
    assert!(matches!(
        reloc_a32(&loads),
        Err(RelocError::OutOfRange { .. })
    ));
}

#[test]
fn t32_branch_fields_round_trip() {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let disp = ((x as i64) % (1 << 24)) & !1;
        let [h1, h2] = t32_branch(disp, None).unwrap();
        assert_eq!(t32_branch_disp(h1, h2, false), disp);
        let disp = ((x as i64 >> 8) % (1 << 20)) & !1;
        let [h1, h2] = t32_branch(disp, Some(0)).unwrap();
        assert_eq!(t32_branch_disp(h1, h2, true), disp);
    }
    assert_eq!(t32_branch(1 << 24, None), None);
    assert_eq!(t32_branch(1 << 20, Some(0)), None);
    assert_eq!(t32_branch(3, None), None);
}

#[test]
fn arbitrary_code_never_panics() {
    // A xorshift stream of words before a valid stub: every result is Ok or an error.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut ok = [0usize; 2];
    for _ in 0..3000 {
        let mut words = [0u32; 3];
        for w in &mut words {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *w = x as u32;
        }
        if reloc_a32(&words).is_ok() {
            ok[0] += 1;
        }
        let halves: Vec<u16> = words
            .iter()
            .flat_map(|w| [*w as u16, (w >> 16) as u16])
            .collect();
        if reloc_t32(&halves).is_ok() {
            ok[1] += 1;
        }
        // Odd T32 lengths too (a 32-bit instruction cut by the stub).
        let _ = reloc_t32(&halves[..5]);
    }
    assert!(
        ok[0] > 0 && ok[1] > 0,
        "some random words are plain instructions: {ok:?}"
    );
}

#[test]
fn vldr_literal_goes_through_ip_saved_on_the_stack() {
    // A32 vldr d0, [pc, #8]; vldreq s3, [pc, #-4] (at +4).
    let p = reloc_a32(&[0xED9F_0B02, 0x0DDF_1A01 & !0x0080_0000]).unwrap();
    let words: Vec<u32> = p.code[..32]
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(words[0], 0xE52D_C004, "push {{ip}}");
    assert_eq!(words[2], 0xED9C_0B00, "vldr d0, [ip]");
    assert_eq!(words[3], 0xE49D_C004, "pop {{ip}}");
    assert_eq!(words[4], 0x052D_C004, "pusheq {{ip}}");
    assert_eq!(words[7], 0x049D_C004, "popeq {{ip}}");
    let text = disasm(Mode::Arm, &p);
    assert_eq!(text[2], "vldr d0, [ip]");
    assert_eq!(text[6], "vldreq s3, [ip]");
    assert!(text[1].starts_with("ldr ip, [pc"), "{text:?}");
    assert!(text[5].starts_with("ldreq ip, [pc"), "{text:?}");
    let entry = ENTRY as u32;
    assert_eq!(literal(&p, 2), entry + 8 + 8);
    assert_eq!(literal(&p, 3), entry + 4 + 8 - 4);
    // T32 vldr d0, [pc, #8] after a 2-byte nop: from Align(ENTRY + 6, 4) = ENTRY + 4.
    let p = reloc_t32(&[0xBF00, 0xED9F, 0x0B02]).unwrap();
    let text = disasm(Mode::Thumb, &p);
    assert_eq!(text[3], "vldr d0, [ip]");
    assert!(text[2].starts_with("ldr.w ip, [pc"), "{text:?}");
    assert_eq!(p.code[2..6], bytes_t32(&[0xF84D, 0xCD04]));
    assert_eq!(p.code[14..18], bytes_t32(&[0xF85D, 0xCB04]));
    assert_eq!(literal(&p, 2), entry + 4 + 8);
}
