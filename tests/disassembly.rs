//! Checks what was generated: the thunk copy of a real (compiler-made) template, decoded
//! with Capstone. Run in debug and release to cover opt-level 0 and 3 prologues.

#![cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]

use capstone::arch::BuildsCapstone;
use capstone::Capstone;
#[cfg(target_arch = "aarch64")]
use closure_ffi::arch::aarch64::MAGIC;
#[cfg(all(target_arch = "arm", not(closure_ffi_thumb)))]
use closure_ffi::arch::arm::MAGIC_A32 as MAGIC;
#[cfg(all(target_arch = "arm", closure_ffi_thumb))]
use closure_ffi::arch::arm::MAGIC_T32 as MAGIC;
#[cfg(target_arch = "x86_64")]
use closure_ffi::arch::x86::MAGIC;
use closure_ffi::traits::FnThunk;
use closure_ffi::{cc, BareFn};

fn template_of<B, F>(_: &F) -> *const u8
where
    B: closure_ffi::traits::FnPtr,
    (cc::C, F): FnThunk<B>,
{
    <(cc::C, F) as FnThunk<B>>::THUNK_TEMPLATE
}

/// The code address of a function pointer (32-bit Arm T32: bit 0 cleared).
fn code(fn_ptr: *const u8) -> *const u8 {
    if cfg!(target_arch = "arm") {
        fn_ptr.map_addr(|a| a & !1)
    } else {
        fn_ptr
    }
}

/// What a jump back into the template loads for the code at `addr`: the address, with bit 0
/// set for T32 (an interworking load into `pc`).
fn continuation(addr: u64) -> u64 {
    if cfg!(all(target_arch = "arm", closure_ffi_thumb)) {
        addr | 1
    } else {
        addr
    }
}

/// Offset of the stub's magic in a template (the continuation is right after it).
fn magic_offset(template: *const u8) -> usize {
    // SAFETY: the template is code of this process, at least this long (it contains the
    // stub, and we stop at the magic).
    let bytes = unsafe { std::slice::from_raw_parts(code(template), 4096) };
    bytes
        .windows(16)
        .position(|w| w == MAGIC)
        .expect("magic in template")
}

#[cfg(target_arch = "x86_64")]
use x86_64::decode_thunk;

#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use super::*;
    use capstone::arch::x86::{X86Operand, X86OperandType};
    use capstone::arch::ArchOperand;
    use capstone::RegId;

    fn capstone() -> Capstone {
        Capstone::new()
            .x86()
            .mode(capstone::arch::x86::ArchMode::Mode64)
            .detail(true)
            .build()
            .expect("capstone")
    }

    /// Decodes the thunk at `entry` up to its final `jmp [rip+lit]`, returning (the movabs
    /// immediate, the absolute jump target read from the literal).
    pub fn decode_thunk(entry: *const u8) -> (u64, u64) {
        let cs = capstone();
        // SAFETY: thunk copies are small; 256 bytes stay inside the allocator's chunk.
        let code = unsafe { std::slice::from_raw_parts(entry, 256) };
        let insns = cs.disasm_all(code, entry as u64).expect("decode thunk");
        let mut imm = None;
        for insn in insns.iter() {
            let detail = cs.insn_detail(insn).expect("detail");
            let ops: Vec<X86Operand> = detail
                .arch_detail()
                .operands()
                .into_iter()
                .filter_map(|o| match o {
                    ArchOperand::X86Operand(o) => Some(o),
                    _ => None,
                })
                .collect();
            match insn.mnemonic() {
                Some("movabs") => {
                    if let X86OperandType::Imm(v) = ops[1].op_type {
                        imm = Some(v as u64);
                    }
                }
                Some("jmp") => {
                    let X86OperandType::Mem(mem) = ops[0].op_type else {
                        panic!("thunk must end with an indirect jmp through a literal: {insn}");
                    };
                    assert_eq!(
                        mem.base(),
                        RegId(capstone::arch::x86::X86Reg::X86_REG_RIP as u16)
                    );
                    let lit = (insn.address() + insn.len() as u64).wrapping_add(mem.disp() as u64);
                    // SAFETY: the literal lies inside the thunk allocation.
                    let target = unsafe { (lit as *const u64).read_unaligned() };
                    return (imm.expect("movabs before the jump"), target);
                }
                _ => {}
            }
        }
        panic!("no final jmp in thunk");
    }
}

#[cfg(target_arch = "aarch64")]
use aarch64::decode_thunk;

#[cfg(target_arch = "aarch64")]
mod aarch64 {
    use super::*;

    /// The address in a PC-relative operand as Capstone prints it (`x8, #0x7f00...`).
    fn pc_relative(op_str: &str) -> u64 {
        let hex = op_str.rsplit("#0x").next().expect("an address operand");
        u64::from_str_radix(hex, 16).expect("a hex address")
    }

    /// Decodes the thunk at `entry` up to its final `br x16`: every word must decode, and the
    /// last three must be `ldr p, slot; ldr x16, lit; br x16`. Returns (the closure pointer in
    /// the slot, the absolute jump target read from the literal).
    pub fn decode_thunk(entry: *const u8) -> (u64, u64) {
        let cs = Capstone::new()
            .arm64()
            .mode(capstone::arch::arm64::ArchMode::Arm)
            .build()
            .expect("capstone");
        // SAFETY: thunk copies are small; 256 bytes stay inside the allocator's chunk.
        let code = unsafe { std::slice::from_raw_parts(entry, 256) };
        let insns = cs.disasm_all(code, entry as u64).expect("decode thunk");
        let text: Vec<(String, String)> = insns
            .iter()
            .map(|i| {
                let m = i.mnemonic().unwrap_or("").to_owned();
                (m, i.op_str().unwrap_or("").to_owned())
            })
            .collect();
        let end = text
            .iter()
            .position(|(m, o)| m == "br" && o == "x16")
            .expect("the thunk ends with br x16");
        assert!(end >= 2, "{text:?}");
        let (load, jump) = (&text[end - 2], &text[end - 1]);
        assert_eq!(load.0, "ldr", "{text:?}");
        assert_eq!(
            (jump.0.as_str(), &jump.1[..5]),
            ("ldr", "x16, "),
            "{text:?}"
        );
        let read = |addr: u64| {
            assert_eq!(addr % 8, 0, "pool literals are aligned");
            // SAFETY: the literal lies inside the thunk allocation (the pool after `br`).
            unsafe { (addr as *const u64).read() }
        };
        (read(pc_relative(&load.1)), read(pc_relative(&jump.1)))
    }
}

#[cfg(target_arch = "arm")]
use arm::decode_thunk;

#[cfg(target_arch = "arm")]
mod arm {
    use super::*;
    use capstone::arch::arm::{ArmOperandType, ArmReg};
    use capstone::arch::ArchOperand;
    use capstone::RegId;

    /// Decodes the thunk at `entry` (a function pointer) up to its final load into `pc`:
    /// every instruction must decode, and the last two must be `ldr p, [pc, #slot]; ldr pc,
    /// [pc, #continuation]` (`ldr.w` in T32). Returns (the closure pointer in the slot, the
    /// jump target read from the literal).
    pub fn decode_thunk(entry: *const u8) -> (u64, u64) {
        let thumb = cfg!(closure_ffi_thumb);
        assert_eq!(entry as usize & 1 == 1, thumb, "bit 0 of the thunk pointer");
        let cs = Capstone::new()
            .arm()
            .mode(if thumb {
                capstone::arch::arm::ArchMode::Thumb
            } else {
                capstone::arch::arm::ArchMode::Arm
            })
            .detail(true)
            .build()
            .expect("capstone");
        let start = code(entry);
        // SAFETY: 1 KiB stays inside the allocator's chunk (64 KiB, page-aligned) for these
        // thunks; the twelve-argument one is longer than 256 bytes here (every argument is
        // spilled before the stub).
        let bytes = unsafe { std::slice::from_raw_parts(start, 1024) };
        let insns = cs.disasm_all(bytes, start as u64).expect("decode thunk");
        let pc = RegId(ArmReg::ARM_REG_PC as u16);
        // (destination register, literal address) of a `ldr rt, [pc, #imm]`.
        let literal_load = |insn: &capstone::Insn| -> Option<(RegId, u64)> {
            if !insn.mnemonic()?.starts_with("ldr") {
                return None;
            }
            let detail = cs.insn_detail(insn).ok()?;
            let ops: Vec<_> = detail
                .arch_detail()
                .operands()
                .into_iter()
                .filter_map(|o| match o {
                    ArchOperand::ArmOperand(o) => Some(o.op_type),
                    _ => None,
                })
                .collect();
            let (ArmOperandType::Reg(rt), ArmOperandType::Mem(mem)) = (&ops[0], &ops[1]) else {
                return None;
            };
            if mem.base() != pc {
                return None;
            }
            let base = if thumb {
                (insn.address() + 4) & !3
            } else {
                insn.address() + 8
            };
            Some((*rt, base.wrapping_add(mem.disp() as i64 as u64)))
        };
        let all: Vec<&capstone::Insn> = insns.iter().collect();
        let end = all
            .iter()
            .position(|i| literal_load(i).is_some_and(|(rt, _)| rt == pc))
            .expect("the thunk ends with a load into pc");
        assert!(end >= 1);
        let (rt, slot) = literal_load(all[end - 1]).expect("the stub's literal load");
        assert_ne!(rt, pc);
        let (_, lit) = literal_load(all[end]).expect("the jump back");
        let read = |addr: u64| {
            assert_eq!(addr % 4, 0, "pool literals are aligned");
            // SAFETY: the literal lies inside the thunk allocation (the pool after the jump).
            u64::from(unsafe { (addr as usize as *const u32).read() })
        };
        (read(slot), read(lit))
    }
}

#[test]
fn thunk_loads_closure_and_jumps_back_to_the_template() {
    let secret = std::hint::black_box(0x0123_4567_89AB_CDEFu64);
    let closure = move |a: u64| a ^ secret;
    let template = template_of::<unsafe extern "C" fn(u64) -> u64, _>(&closure);
    let thunk = BareFn::new_c(closure);
    let entry = thunk.bare() as *const u8;
    assert_ne!(
        entry, template,
        "a capturing closure gets a copy, not the template"
    );

    let (closure_ptr, target) = decode_thunk(entry);
    // The patched immediate points at the boxed closure, whose only capture is `secret`.
    // SAFETY: the box is alive while `thunk` is.
    assert_eq!(unsafe { (closure_ptr as *const u64).read() }, secret);
    // The jump goes back to the instruction right after the template's magic.
    let template_code = code(template) as u64;
    assert_eq!(
        target,
        continuation(template_code + magic_offset(template) as u64 + 16)
    );
    // SAFETY: `thunk` is alive.
    assert_eq!(unsafe { thunk.bare()(1) }, 1 ^ secret);
}

#[test]
fn zero_sized_closure_is_the_template_itself() {
    let closure = |a: u64| a + 1;
    let template = template_of::<unsafe extern "C" fn(u64) -> u64, _>(&closure);
    let thunk = BareFn::new_c(closure);
    assert_eq!(thunk.bare() as *const u8, template);
}

#[test]
fn many_argument_template_prologue_relocates() {
    // Twelve arguments, floats and a by-value struct: the prologue spills or converts
    // arguments before the stub; relocation must keep every instruction meaningful.
    #[derive(Clone, Copy)]
    #[repr(C)]
    struct Big {
        v: [i64; 5],
    }
    let salt = std::hint::black_box(3i64);
    let thunk = BareFn::new_c(
        move |a: Big,
              b: i8,
              c: f32,
              d: f64,
              e: u16,
              f: u64,
              g: i32,
              h: u8,
              i: f64,
              j: i16,
              k: u32,
              l: i64| {
            a.v.iter().sum::<i64>()
                + b as i64
                + c as i64
                + d as i64
                + e as i64
                + f as i64
                + g as i64
                + h as i64
                + i as i64
                + j as i64
                + k as i64
                + l
                + salt
        },
    );
    let big = Big { v: [1, 2, 3, 4, 5] };
    // SAFETY: `thunk` is alive.
    let got = unsafe { thunk.bare()(big, -1, 2.5, 3.5, 4, 5, -6, 7, 8.25, -9, 10, 11) };
    assert_eq!(got, 15 - 1 + 2 + 3 + 4 + 5 - 6 + 7 + 8 - 9 + 10 + 11 + 3);
    let (closure_ptr, _) = decode_thunk(thunk.bare() as *const u8);
    assert_ne!(
        closure_ptr,
        closure_ffi::__private::PLACEHOLDER as u64,
        "immediate was patched"
    );
}

#[test]
fn large_frame_template_relocates() {
    // A closure with a 256 KiB local. In release it is inlined into its template, whose
    // prologue then probes the stack page by page before the stub (aarch64: an inline probe
    // loop, branches inside the copied block; x86_64: an inline loop or a probestack call).
    let salt = std::hint::black_box(7u64);
    let thunk = BareFn::new_c(move |n: u64| -> u64 {
        let mut buf = [0u8; 256 * 1024];
        std::hint::black_box(&mut buf);
        buf[n as usize % buf.len()] = n as u8;
        std::hint::black_box(&buf);
        buf.iter().map(|&b| b as u64).sum::<u64>() + salt
    });
    // SAFETY: `thunk` is alive.
    assert_eq!(unsafe { thunk.bare()(5) }, 5 + 7);
    let (closure_ptr, _) = decode_thunk(thunk.bare() as *const u8);
    // SAFETY: the boxed closure (its only capture is `salt`) is alive while `thunk` is.
    assert_eq!(unsafe { (closure_ptr as *const u64).read() }, 7);
}
