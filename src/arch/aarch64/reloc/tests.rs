//! Golden tests of the AArch64 relocator: host-independent (they run on x86_64 too).
//!
//! Input words were assembled with GNU as (`aarch64-linux-gnu-as -march=armv8.3-a`); the
//! expected output is checked both as words and as Capstone's disassembly of the copy placed
//! at address 0, so a wrong displacement reads as a wrong address.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::*;

/// Where the templates of these tests live.
const ENTRY: u64 = 0x4000_1000;

fn bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// `prologue`, then the stub loading into x`reg`.
fn template(prologue: &[u32], reg: u32) -> Vec<u8> {
    let mut code = bytes(prologue);
    code.extend_from_slice(&bytes(&[STUB_LDR | reg, STUB_B]));
    code.extend_from_slice(&PLACEHOLDER_64.to_le_bytes());
    code.extend_from_slice(&MAGIC);
    code
}

fn reloc(prologue: &[u32]) -> Result<PreparedTemplate, RelocError> {
    relocate(&template(prologue, 8), ENTRY)
}

/// The code words of a prepared template (up to its pool).
fn code_words(p: &PreparedTemplate) -> Vec<u32> {
    p.code[..p.closure_slot]
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Pool entry `index` (0 = closure slot, 1 = continuation, 2.. = literals).
fn literal(p: &PreparedTemplate, index: usize) -> u64 {
    let at = p.closure_slot + 8 * index;
    u64::from_le_bytes(p.code[at..at + 8].try_into().unwrap())
}

/// Capstone's text for each code word of the copy placed at address 0.
fn disasm(p: &PreparedTemplate) -> Vec<String> {
    let cs = Capstone::new().arm64().mode(ArchMode::Arm).build().unwrap();
    let code = &p.code[..p.closure_slot];
    let insns = cs.disasm_all(code, 0).unwrap();
    assert_eq!(insns.len() * 4, code.len(), "every output word decodes");
    insns
        .iter()
        .map(|i| format!("{} {}", i.mnemonic().unwrap(), i.op_str().unwrap_or("")))
        .map(|s| String::from(s.trim_end()))
        .collect()
}

/// The tail every copy ends with, for a prologue rewritten into `words` words.
fn tail(words: usize) -> [String; 3] {
    let at = 4 * words;
    let pool = (at + 12).next_multiple_of(8);
    [
        format!("ldr x8, #{:#x}", pool),
        format!("ldr x16, #{:#x}", pool + 8),
        String::from("br x16"),
    ]
}

fn unsupported(r: Result<PreparedTemplate, RelocError>) -> (usize, &'static str) {
    match r {
        Err(RelocError::Unsupported { offset, what }) => (offset, what),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn bare_stub() {
    let p = reloc(&[]).unwrap();
    assert_eq!(
        code_words(&p),
        [0x5800_0088, 0x5800_00B0, 0xD61F_0200, POOL_PAD]
    );
    assert_eq!(disasm(&p)[..3], tail(0));
    assert_eq!(p.closure_slot, 16);
    assert_eq!(literal(&p, 0), 0, "the slot starts zeroed");
    assert_eq!(
        literal(&p, 1),
        ENTRY + 32,
        "continuation: right after the magic"
    );
    assert_eq!(p.code.len(), 32);
    assert!(p.fixups.is_empty());
}

#[test]
fn stub_register_is_kept() {
    for reg in [0, 9, 15, 17, 30] {
        let p = relocate(&template(&[], reg), ENTRY).unwrap();
        assert_eq!(code_words(&p)[0], 0x5800_0080 | reg);
    }
}

#[test]
fn position_independent_words_are_copied() {
    // sub sp, sp, #16; stp x29, x30, [sp, #-16]!; mov x29, sp; paciasp; mrs x1, tpidr_el0
    let prologue = [
        0xD100_43FF,
        0xA9BF_7BFD,
        0x9100_03FD,
        0xD503_233F,
        0xD53B_D041,
    ];
    let p = reloc(&prologue).unwrap();
    assert_eq!(code_words(&p)[..5], prologue);
    assert_eq!(disasm(&p)[5..8], tail(5));
    assert_eq!(literal(&p, 1), ENTRY + 4 * 5 + 32);
}

#[test]
fn register_branches_are_refused() {
    // ret; br x3; blr x3; retaa; braa x3, x4
    for word in [
        0xD65F_03C0,
        0xD61F_0060,
        0xD63F_0060,
        0xD65F_0BFF,
        0xD71F_0864,
    ] {
        assert_eq!(
            unsupported(reloc(&[NOP, word])),
            (4, "indirect branch or return"),
            "{word:#010x}"
        );
    }
}

#[test]
fn branches_inside_get_new_displacements() {
    // 0: adr x2, #-4 (grows to... 1 word, ldr literal)   4: b +8 (to 0xc)
    // 8: bl out (grows to 2 words)                         c: b.ne -8 (to 4)
    // 10: cbz x3, +8 (to the stub at 0x18)                 14: tbz x5, #33, -0x14 (to 0)
    let prologue = [
        0x10FF_FFE2,
        0x1400_0002,
        0x9400_0400,
        0x54FF_FFC1,
        0xB400_0043,
        0xB60F_FF65,
    ];
    let p = reloc(&prologue).unwrap();
    // Pool at 0x28: slot, continuation, adr value, bl target.
    assert_eq!(
        disasm(&p),
        [
            "ldr x2, #0x38",
            "b #0x10",
            "ldr x16, #0x40",
            "blr x16",
            "b.ne #4",
            "cbz x3, #0x1c",
            "tbz x5, #0x21, #0",
            "ldr x8, #0x28",
            "ldr x16, #0x30",
            "br x16",
        ]
    );
    assert_eq!(literal(&p, 2), ENTRY - 4);
    assert_eq!(literal(&p, 3), ENTRY + 8 + 0x1000);
    assert!(p.fixups.is_empty());
}

#[test]
fn unconditional_branch_out_is_a_fixup() {
    // b +0x100 (beyond the stub: to the template's body)
    let p = reloc(&[0x1400_0040]).unwrap();
    assert_eq!(code_words(&p)[0], B);
    assert_eq!(
        &*p.fixups,
        [Fixup::Branch26 {
            at: 0,
            target: ENTRY + 0x100
        }]
    );
    // To the continuation itself: also out (the stub's interior is refused, see below).
    let p = reloc(&[0x1400_0009]).unwrap();
    assert_eq!(
        &*p.fixups,
        [Fixup::Branch26 {
            at: 0,
            target: ENTRY + 4 + 32
        }]
    );
}

#[test]
fn conditional_branches_out_are_inverted_over_a_fixup() {
    // b.ne +0x100; cbz x3, +0x100; cbnz w3, +0x100; tbz x5, #33, +0x100; tbnz w5, #3, +0x100;
    // b.al +0x100
    let prologue = [
        0x5400_0801,
        0xB400_0803,
        0x3500_0803,
        0xB608_0805,
        0x3718_0805,
        0x5400_080E,
    ];
    let p = reloc(&prologue).unwrap();
    let text = disasm(&p);
    assert_eq!(
        text[..12],
        [
            "b.eq #8",
            "b #4",
            "cbnz x3, #0x10",
            "b #0xc",
            "cbz w3, #0x18",
            "b #0x14",
            "tbnz x5, #0x21, #0x20",
            "b #0x1c",
            "tbz w5, #3, #0x28",
            "b #0x24",
            "nop",
            "b #0x2c",
        ]
    );
    let targets: Vec<_> = p
        .fixups
        .iter()
        .map(|f| match *f {
            Fixup::Branch26 { at, target } => (at, target),
            _ => panic!("unexpected fixup {f:?}"),
        })
        .collect();
    let expected: Vec<_> = (0..6)
        .map(|i| (8 * i + 4, ENTRY + 4 * i as u64 + 0x100))
        .collect();
    assert_eq!(targets, expected);
}

#[test]
fn branch26_range() {
    let at = 0x1000_0000;
    assert_eq!(branch26(at, at + 8), Some(0x1400_0002));
    assert_eq!(branch26(at, at - 4), Some(0x17FF_FFFF));
    assert_eq!(branch26(at, at + (128 << 20) - 4), Some(0x15FF_FFFF));
    assert_eq!(branch26(at, at - (128 << 20)), Some(0x1600_0000));
    assert_eq!(branch26(at, at + (128 << 20)), None, "one word too far");
    assert_eq!(branch26(at, at - (128 << 20) - 4), None);
    assert_eq!(branch26(at, at + 2), None, "unaligned");
    assert_eq!(
        branch26(0, u64::MAX - 3),
        Some(0x17FF_FFFF),
        "wraps like the PC"
    );
}

#[test]
fn displacement_fields_refuse_what_does_not_fit() {
    assert_eq!(
        Field::Imm19.write(0x5400_0001, (1 << 20) - 4),
        Some(0x547F_FFE1)
    );
    assert_eq!(Field::Imm19.write(0x5400_0001, 1 << 20), None);
    assert_eq!(
        Field::Imm19.write(0x5400_0001, -(1 << 20)),
        Some(0x5480_0001)
    );
    assert_eq!(Field::Imm19.write(0x5400_0001, -(1 << 20) - 4), None);
    assert_eq!(
        Field::Imm14.write(0x3618_0005, (1 << 15) - 4),
        Some(0x361B_FFE5)
    );
    assert_eq!(Field::Imm14.write(0x3618_0005, 1 << 15), None);
    assert_eq!(Field::Imm14.write(0x3618_0005, -(1 << 15) - 4), None);
}

#[test]
fn calls_out_go_through_x16() {
    // bl +0x1000; bl -0x2000000
    let p = reloc(&[0x9400_0400, 0x9780_0000]).unwrap();
    assert_eq!(
        disasm(&p)[..4],
        ["ldr x16, #0x30", "blr x16", "ldr x16, #0x38", "blr x16"]
    );
    assert_eq!(literal(&p, 2), ENTRY + 0x1000);
    assert_eq!(literal(&p, 3), ENTRY + 4 - 0x200_0000);
    assert!(p.fixups.is_empty());
}

#[test]
fn call_into_the_block_or_the_stub_is_refused() {
    // bl +4 (to the stub's ldr)
    assert_eq!(
        unsupported(reloc(&[0x9400_0001])),
        (0, "BL into the copied block")
    );
    // b +8 (the stub's b), b +0xc (its literal), cbz x0, +0x18 (the magic)
    for word in [0x1400_0002, 0x1400_0003, 0xB400_00C0] {
        assert_eq!(unsupported(reloc(&[word])), (0, "branch into the stub"));
    }
}

#[test]
fn adr_and_adrp_become_literal_loads() {
    // adr x2, +0x123; adr x2, -4; adrp x9, +0x5000 (at entry + 8); adrp x9, -0x1000
    let p = reloc(&[0x7000_0902, 0x10FF_FFE2, 0xB000_0029, 0xF0FF_FFE9]).unwrap();
    assert_eq!(
        disasm(&p)[..4],
        [
            "ldr x2, #0x30",
            "ldr x2, #0x38",
            "ldr x9, #0x40",
            "ldr x9, #0x48"
        ]
    );
    assert_eq!(literal(&p, 2), ENTRY + 0x123);
    assert_eq!(literal(&p, 3), ENTRY + 4 - 4);
    assert_eq!(literal(&p, 4), (ENTRY & !0xFFF) + 0x5000);
    assert_eq!(literal(&p, 5), (ENTRY & !0xFFF) - 0x1000);
    // ADRP from an unaligned page offset: the page of the instruction, not of the entry.
    let entry = 0x4000_1FFC;
    let p = relocate(&template(&[0xD503_201F, 0xB000_0029], 8), entry).unwrap();
    assert_eq!(literal(&p, 2), 0x4000_2000 + 0x5000);
}

#[test]
fn integer_literal_loads_load_the_address_then_the_value() {
    // ldr w1, +0x40; ldr x1, +0x40; ldrsw x1, +0x40
    let p = reloc(&[0x1800_0201, 0x5800_0201, 0x9800_0201]).unwrap();
    assert_eq!(
        disasm(&p)[..6],
        [
            "ldr x1, #0x38",
            "ldr w1, [x1]",
            "ldr x1, #0x40",
            "ldr x1, [x1]",
            "ldr x1, #0x48",
            "ldrsw x1, [x1]",
        ]
    );
    assert_eq!(literal(&p, 2), ENTRY + 0x40);
    assert_eq!(literal(&p, 3), ENTRY + 4 + 0x40);
    assert_eq!(literal(&p, 4), ENTRY + 8 + 0x40);
}

#[test]
fn simd_literal_loads_borrow_x16_on_the_stack() {
    // ldr s3, +0x40; ldr d3, -0x40; ldr q3, +0x40
    let p = reloc(&[0x1C00_0203, 0x5CFF_FE03, 0x9C00_0203]).unwrap();
    let mut expected = Vec::new();
    for (i, reg) in ["s3", "d3", "q3"].iter().enumerate() {
        expected.push(String::from("str x16, [sp, #-0x10]!"));
        expected.push(format!("ldr x16, #{:#x}", 0x50 + 8 * i));
        expected.push(format!("ldr {reg}, [x16]"));
        expected.push(String::from("ldr x16, [sp], #0x10"));
    }
    assert_eq!(disasm(&p)[..12], expected);
    assert_eq!(literal(&p, 2), ENTRY + 0x40);
    assert_eq!(literal(&p, 3), ENTRY + 4 - 0x40);
    assert_eq!(literal(&p, 4), ENTRY + 8 + 0x40);
}

#[test]
fn prefetch_becomes_nop() {
    // prfm pldl1keep, +0x40
    let p = reloc(&[0xD800_0200]).unwrap();
    assert_eq!(code_words(&p)[0], NOP);
}

#[test]
fn unrelocatable_words_are_refused() {
    let cases: [(u32, &str); 6] = [
        (0x5800_021F, "literal load into register 31"),
        (0xDC00_0203, "unallocated SIMD&FP literal load"),
        (0xD420_0020, "exception-generating instruction"),
        (0xD400_0001, "exception-generating instruction"),
        (0x5400_0010, "BC.cond"),
        // An unallocated word of the branch class (op0 = 011, op1 = 0b1...).
        (0x7400_0000, "branch-class instruction with no rewrite rule"),
    ];
    for (word, what) in cases {
        // After one plain word, so the offset is checked too.
        match reloc(&[0xD503_201F, word]) {
            Err(RelocError::Unsupported { offset, what: got }) => {
                assert_eq!((offset, got), (4, what), "{word:#010x}")
            }
            // Capstone may not know the newest encodings: refused as well.
            Err(RelocError::Decode { offset: 4 }) => {}
            other => panic!("{word:#010x}: {other:?}"),
        }
    }
}

#[test]
fn undecodable_word_is_a_decode_error() {
    // udf #0 decodes, but 0xFFFF_FFFF is unallocated.
    assert_eq!(
        reloc(&[0xD503_201F, 0xFFFF_FFFF]),
        Err(RelocError::Decode { offset: 4 })
    );
}

#[test]
fn malformed_stubs_are_refused() {
    let good = template(&[0xD503_201F], 8);
    assert!(relocate(&good, ENTRY).is_ok());
    let mut cases = Vec::new();
    for (at, value) in [
        (4, 0x5800_0050u32), // ldr x16: the scratch register
        (4, 0x5800_005F),    // ldr xzr
        (4, 0x5800_0068),    // ldr x8, #12
        (8, 0x1400_0006),    // b #24
        (12, 0xDEAD_BEEF),   // placeholder
        (20, 0x0000_0000),   // magic
    ] {
        let mut code = good.clone();
        code[at..at + 4].copy_from_slice(&value.to_le_bytes());
        cases.push(code);
    }
    cases.push(good[1..].to_vec()); // not a whole number of words
    cases.push(good[good.len() - 31..].to_vec()); // too short
    for code in cases {
        assert_eq!(relocate(&code, ENTRY), Err(RelocError::MalformedStub));
    }
    assert_eq!(relocate(&good, ENTRY + 2), Err(RelocError::MalformedStub));
}

#[test]
fn long_prologues_are_refused() {
    let nops = alloc::vec![NOP; MAX_PROLOGUE_LEN / 4];
    assert!(reloc(&nops).is_ok());
    let nops = alloc::vec![NOP; MAX_PROLOGUE_LEN / 4 + 1];
    assert!(matches!(
        reloc(&nops),
        Err(RelocError::Unsupported {
            offset: MAX_PROLOGUE_LEN,
            ..
        })
    ));
}

#[test]
fn stack_probe_loop_is_relocated() {
    // What rustc 1.95 emits (release) before the stub of a template with a 256 KiB frame
    // (tests/disassembly.rs, `large_frame_template_relocates`): an inline probe loop.
    //   sub x9, sp, #0x40, lsl #12
    // 1: sub sp, sp, #1, lsl #12
    //   cmp sp, x9
    //   str xzr, [sp]
    //   b.ne 1b
    //   sub sp, sp, #0x10
    let prologue = [
        0xD141_03E9,
        0xD140_07FF,
        0xEB29_63FF,
        0xF900_03FF,
        0x54FF_FFA1,
        0xD100_43FF,
    ];
    let p = reloc(&prologue).unwrap();
    assert_eq!(
        code_words(&p)[..6],
        prologue,
        "all targets inside: same words"
    );
    assert_eq!(disasm(&p)[4], "b.ne #4");
    assert!(p.fixups.is_empty());
}

#[test]
fn emitted_encodings_match_capstone() {
    let cs = Capstone::new().arm64().mode(ArchMode::Arm).build().unwrap();
    let cases = [
        (PUSH_X16, "str x16, [sp, #-0x10]!"),
        (POP_X16, "ldr x16, [sp], #0x10"),
        (LDR_W_BASE | (1 << 5) | 1, "ldr w1, [x1]"),
        (LDR_X_BASE | (1 << 5) | 1, "ldr x1, [x1]"),
        (LDRSW_BASE | (1 << 5) | 1, "ldrsw x1, [x1]"),
        (LDR_S_BASE | (16 << 5) | 3, "ldr s3, [x16]"),
        (LDR_D_BASE | (16 << 5) | 3, "ldr d3, [x16]"),
        (LDR_Q_BASE | (16 << 5) | 3, "ldr q3, [x16]"),
        (BLR | (16 << 5), "blr x16"),
        (BR | (16 << 5), "br x16"),
        (NOP, "nop"),
        (LDR_X_LIT | (2 << 5) | 7, "ldr x7, #8"),
    ];
    for (word, text) in cases {
        let insns = cs.disasm_all(&word.to_le_bytes(), 0).unwrap();
        let insn = insns.iter().next().unwrap();
        let got = format!("{} {}", insn.mnemonic().unwrap(), insn.op_str().unwrap());
        assert_eq!(got.trim_end(), text);
    }
}

#[test]
fn arbitrary_words_never_panic() {
    // A xorshift stream of words before a valid stub: every result is Ok or an error.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut ok = 0;
    for _ in 0..3000 {
        let mut prologue = [0u32; 4];
        for w in &mut prologue {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *w = x as u32;
        }
        if let Ok(p) = reloc(&prologue) {
            ok += 1;
            let words = code_words(&p);
            assert!(words.len() >= 7);
            assert_eq!(literal(&p, 1), ENTRY + 16 + 32);
        }
    }
    assert!(ok > 0, "some random words are plain instructions");
}
