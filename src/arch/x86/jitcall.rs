//! Compiled System V call stubs: machine code generated from a [`CallPlan`] that loads each
//! argument straight from `avalue` into its register or stack slot, calls, and stores the
//! result. A compiled call does what the plan says with no interpretation left: no loop,
//! no dispatch on move kinds, no register block in memory.
//!
//! Host-independent: [`emit_sysv64`] returns bytes, which the tests disassemble.
//!
//! The stub is `extern "sysv64" fn(fun, rvalue, avalue)`:
//!
//! ```text
//!  push rbx                      ; callee-saved; also aligns rsp to 16
//!  mov  rbx, rsi                 ; rbx = rvalue (survives the call)
//!  mov  r11, rdi                 ; r11 = fun
//!  mov  r10, rdx                 ; r10 = avalue
//!  sub  rsp, N                   ; stack arguments + sret scratch (if any), N % 16 == 0
//!  ; stack arguments: rax = avalue[i]; copy through rcx
//!  ; [sret without buffer: test rbx, rbx; jnz 1f; lea rbx, [rsp + scratch]; 1:]
//!  ; vector arguments: rax = avalue[i]; movq/movd xmmN, [rax + off]
//!  ; integer arguments: rax = avalue[i]; mov/movzx/movsx reg, [rax + off]
//!  ; [sret: mov rdi, rbx]
//!  mov  eax, 8                   ; al: vector-register bound for variadic callees
//!  call r11
//!  ; result: test rbx, rbx; jz done; stores of rax/rdx/xmm0/xmm1 (widened) or fstp
//!  add  rsp, N
//!  pop  rbx
//!  ret
//! ```
//!
//! Plans the stub does not cover (integer pieces of 3, 5, 6 or 7 bytes, frames over a
//! page) are refused with `None`; they keep the generic executor.

use alloc::vec::Vec;

use super::sysv64::{REG_BLOCK, SSE_BLOCK};
use crate::dynamic::plan::{CallPlan, MoveOp, RetPlan, RetReg};

/// Largest frame a stub reserves without probing the stack.
const MAX_FRAME: u32 = 4096;

/// The integer argument registers, by register number, in argument order.
const GPR: [u8; 6] = [7, 6, 2, 1, 8, 9]; // rdi rsi rdx rcx r8 r9

/// Register numbers used as memory bases.
const RAX: u8 = 0;
const RSP: u8 = 4;
const RBP: u8 = 5;
const R10: u8 = 10;

struct Asm(Vec<u8>);

impl Asm {
    fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }

    fn d32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    /// `mov rax, [r10 + 8 * arg]`.
    fn load_arg_ptr(&mut self, arg: u16) {
        self.mem(None, true, &[0x8B], RAX, R10, 8 * u32::from(arg));
    }

    /// An instruction `[prefix] [rex] opcode modrm(10, reg, base) [SIB] disp32`: a register
    /// and `[base + disp32]`, for any base register (rsp needs the SIB byte; r8..r15 need
    /// REX.B).
    fn mem(
        &mut self,
        prefix: Option<u8>,
        rex_w: bool,
        opcode: &[u8],
        reg: u8,
        base: u8,
        disp: u32,
    ) {
        if let Some(p) = prefix {
            self.bytes(&[p]);
        }
        let rex = 0x40 | (u8::from(rex_w) << 3) | ((reg >> 3) << 2) | (base >> 3);
        if rex != 0x40 {
            self.bytes(&[rex]);
        }
        self.bytes(opcode);
        self.bytes(&[0x80 | ((reg & 7) << 3) | (base & 7)]);
        if base & 7 == RSP {
            self.bytes(&[0x24]);
        }
        self.d32(disp);
    }

    /// An instruction with a register and `[rbx + disp8]`.
    fn rbx_mem(&mut self, prefix: &[u8], opcode: &[u8], reg: u8, disp: u8) {
        self.bytes(prefix);
        self.bytes(opcode);
        self.bytes(&[0x43 | ((reg & 7) << 3), disp]);
    }
}

/// Generates the call stub for `plan`, or `None` if the plan has a shape stubs do not
/// cover (see the module docs).
pub fn emit_sysv64(plan: &CallPlan) -> Option<Vec<u8>> {
    let indirect = matches!(plan.ret, RetPlan::Indirect { .. });
    let scratch = if indirect {
        plan.frame_size - plan.ret_scratch
    } else {
        0
    };
    let frame = (plan.stack_size + scratch).next_multiple_of(16);
    if frame > MAX_FRAME {
        return None;
    }
    let mut a = Asm(Vec::with_capacity(64 + 16 * plan.moves.len()));
    a.bytes(&[0x53]); // push rbx
    a.bytes(&[0x48, 0x89, 0xF3]); // mov rbx, rsi
    a.bytes(&[0x49, 0x89, 0xFB]); // mov r11, rdi
    a.bytes(&[0x49, 0x89, 0xD2]); // mov r10, rdx
    if frame != 0 {
        a.bytes(&[0x48, 0x81, 0xEC]); // sub rsp, imm32
        a.d32(frame);
    }

    // Stack arguments first: they use rcx as the copy register, which may hold an argument
    // later.
    for m in plan.moves.iter().filter(|m| m.dst >= REG_BLOCK) {
        if m.op != MoveOp::Copy {
            return None;
        }
        a.load_arg_ptr(m.arg);
        let (mut off, dst) = (0u32, m.dst - REG_BLOCK);
        while off < m.len {
            let (src, to) = (u32::from(m.src) + off, dst + off);
            match m.len - off {
                8.. => {
                    a.mem(None, true, &[0x8B], 1, RAX, src); // mov rcx, [rax + src]
                    a.mem(None, true, &[0x89], 1, RSP, to); // mov [rsp + to], rcx
                    off += 8;
                }
                4..=7 => {
                    a.mem(None, false, &[0x8B], 1, RAX, src); // mov ecx, [rax + src]
                    a.mem(None, false, &[0x89], 1, RSP, to); // mov [rsp + to], ecx
                    off += 4;
                }
                2..=3 => {
                    a.mem(Some(0x66), false, &[0x8B], 1, RAX, src); // mov cx, [rax + src]
                    a.mem(Some(0x66), false, &[0x89], 1, RSP, to); // mov [rsp + to], cx
                    off += 2;
                }
                _ => {
                    a.mem(None, false, &[0x8A], 1, RAX, src); // mov cl, [rax + src]
                    a.mem(None, false, &[0x88], 1, RSP, to); // mov [rsp + to], cl
                    off += 1;
                }
            }
        }
    }

    if indirect {
        // test rbx, rbx; jnz +8; lea rbx, [rsp + scratch]
        a.bytes(&[0x48, 0x85, 0xDB, 0x75, 0x08, 0x48, 0x8D, 0x9C, 0x24]);
        a.d32(plan.ret_scratch - REG_BLOCK);
    }

    for m in plan.moves.iter().filter(|m| m.dst < REG_BLOCK) {
        a.load_arg_ptr(m.arg);
        let src = u32::from(m.src);
        if m.dst >= SSE_BLOCK {
            let xmm = ((m.dst - SSE_BLOCK) / 8) as u8;
            match m.len {
                8 => a.mem(Some(0xF3), false, &[0x0F, 0x7E], xmm, RAX, src), // movq xmm, m64
                4 => a.mem(Some(0x66), false, &[0x0F, 0x6E], xmm, RAX, src), // movd xmm, m32
                _ => return None,
            }
            continue;
        }
        let reg = GPR[(m.dst / 8) as usize];
        match (m.op, m.len) {
            (_, 8) => a.mem(None, true, &[0x8B], reg, RAX, src), // mov r64, m64
            (MoveOp::ZeroExtend, 4) => a.mem(None, false, &[0x8B], reg, RAX, src), // mov r32
            (MoveOp::ZeroExtend, 2) => a.mem(None, false, &[0x0F, 0xB7], reg, RAX, src), // movzx
            (MoveOp::ZeroExtend, 1) => a.mem(None, false, &[0x0F, 0xB6], reg, RAX, src), // movzx
            (MoveOp::SignExtend, 4) => a.mem(None, true, &[0x63], reg, RAX, src), // movsxd
            (MoveOp::SignExtend, 2) => a.mem(None, true, &[0x0F, 0xBF], reg, RAX, src), // movsx
            (MoveOp::SignExtend, 1) => a.mem(None, true, &[0x0F, 0xBE], reg, RAX, src), // movsx
            _ => return None,
        }
    }

    if indirect {
        a.bytes(&[0x48, 0x89, 0xDF]); // mov rdi, rbx
    }
    a.bytes(&[0xB8, 8, 0, 0, 0]); // mov eax, 8
    a.bytes(&[0x41, 0xFF, 0xD3]); // call r11

    match plan.ret {
        RetPlan::Void | RetPlan::Indirect { .. } => {}
        RetPlan::Regs {
            parts,
            count,
            widen,
        } => {
            let mut stores = Asm(Vec::new());
            if let Some(signed) = widen {
                match (signed, parts[0].len) {
                    (true, 1) => stores.bytes(&[0x48, 0x0F, 0xBE, 0xC0]), // movsx rax, al
                    (true, 2) => stores.bytes(&[0x48, 0x0F, 0xBF, 0xC0]), // movsx rax, ax
                    (true, _) => stores.bytes(&[0x48, 0x63, 0xC0]),       // movsxd rax, eax
                    (false, 1) => stores.bytes(&[0x0F, 0xB6, 0xC0]),      // movzx eax, al
                    (false, 2) => stores.bytes(&[0x0F, 0xB7, 0xC0]),      // movzx eax, ax
                    (false, _) => stores.bytes(&[0x89, 0xC0]),            // mov eax, eax
                }
                stores.bytes(&[0x48, 0x89, 0x03]); // mov [rbx], rax
            } else {
                for part in &parts[..count as usize] {
                    let off = part.off;
                    match (part.reg, part.len) {
                        (RetReg::Int0 | RetReg::Int1, len) => {
                            let reg = if part.reg == RetReg::Int0 { 0 } else { 2 }; // rax, rdx
                            match len {
                                8 => stores.rbx_mem(&[0x48], &[0x89], reg, off),
                                4 => stores.rbx_mem(&[], &[0x89], reg, off),
                                2 => stores.rbx_mem(&[0x66], &[0x89], reg, off),
                                1 => stores.rbx_mem(&[], &[0x88], reg, off),
                                _ => return None,
                            }
                        }
                        (RetReg::Vec0 | RetReg::Vec1, len) => {
                            let reg = if part.reg == RetReg::Vec0 { 0 } else { 1 };
                            match len {
                                8 => stores.rbx_mem(&[0x66], &[0x0F, 0xD6], reg, off), // movq
                                4 => stores.rbx_mem(&[0x66], &[0x0F, 0x7E], reg, off), // movd
                                _ => return None,
                            }
                        }
                        (RetReg::Vec2 | RetReg::Vec3, _) => return None,
                    }
                }
            }
            // test rbx, rbx; jz over the stores
            a.bytes(&[0x48, 0x85, 0xDB, 0x74, u8::try_from(stores.0.len()).ok()?]);
            a.bytes(&stores.0);
        }
        RetPlan::X87 { count } => {
            // test rbx, rbx; jz pop; fstp tbyte [rbx] (; fstp tbyte [rbx + 16]); jmp done;
            // pop: fstp st(0) (x count); done:
            let stores: &[u8] = if count == 2 {
                &[0xDB, 0x3B, 0xDB, 0x7B, 0x10]
            } else {
                &[0xDB, 0x3B]
            };
            let pops: &[u8] = if count == 2 {
                &[0xDD, 0xD8, 0xDD, 0xD8]
            } else {
                &[0xDD, 0xD8]
            };
            a.bytes(&[0x48, 0x85, 0xDB, 0x74, (stores.len() + 2) as u8]);
            a.bytes(stores);
            a.bytes(&[0xEB, pops.len() as u8]);
            a.bytes(pops);
        }
    }

    if frame != 0 {
        a.bytes(&[0x48, 0x81, 0xC4]); // add rsp, imm32
        a.d32(frame);
    }
    a.bytes(&[0x5B, 0xC3]); // pop rbx; ret
    Some(a.0)
}

/// Offset of the dispatcher in a closure header (`ClosureHeader::invoke`).
pub const HEADER_INVOKE: u8 = 32;

/// Generates a System V closure entry for `plan` (entered with r10 = the closure header),
/// or `None` for shapes it does not cover.
///
/// ```text
///  push rbp; mov rbp, rsp; sub rsp, N
///  [rsp + 0]        the argument pointer array (8 * nargs)
///  [rsp + store]    each register argument's eightbytes, stored where its value is whole
///  [rsp + ret]      a 32-byte return buffer; [rsp + ret + 32] the sret pointer
///  ; stores of rdi..r9 / xmm0..7, pointer array entries (stack arguments: lea [rbp + 16 + off])
///  mov rdi, r10; lea rsi, [rsp + ret] (sret: mov rsi, rdi); mov rdx, rsp
///  call [r10 + HEADER_INVOKE]
///  ; loads of the result into rax/rdx/xmm0/xmm1 (widened) or fld, or rax = sret pointer
///  leave; ret
/// ```
pub fn emit_closure_sysv64(plan: &CallPlan, nargs: usize) -> Option<Vec<u8>> {
    // Storage for register arguments: 16 bytes per argument that has register moves.
    let array = (8 * nargs as u32).next_multiple_of(16);
    let mut store = array;
    let mut stores = Vec::with_capacity(nargs);
    for arg in 0..nargs {
        let moves = plan.moves_of(arg);
        if moves.iter().any(|m| m.dst < REG_BLOCK) {
            if moves.iter().any(|m| m.dst >= REG_BLOCK || m.src >= 16) {
                return None;
            }
            stores.push(Some(store));
            store += 16;
        } else {
            stores.push(None);
        }
    }
    let ret = store;
    let frame = (ret + 48).next_multiple_of(16);
    if frame > MAX_FRAME {
        return None;
    }
    let mut a = Asm(Vec::with_capacity(64 + 24 * plan.moves.len()));
    a.bytes(&[0x55, 0x48, 0x89, 0xE5]); // push rbp; mov rbp, rsp
    a.bytes(&[0x48, 0x81, 0xEC]); // sub rsp, imm32
    a.d32(frame);
    let indirect = matches!(plan.ret, RetPlan::Indirect { .. });
    if indirect {
        a.mem(None, true, &[0x89], 7, RSP, ret + 32); // mov [rsp + ret + 32], rdi
    }
    for (arg, store) in stores.iter().enumerate() {
        let slot = 8 * arg as u32;
        match store {
            Some(store) => {
                for m in plan.moves_of(arg) {
                    let at = store + u32::from(m.src);
                    if m.dst >= SSE_BLOCK {
                        let xmm = ((m.dst - SSE_BLOCK) / 8) as u8;
                        a.mem(Some(0x66), false, &[0x0F, 0xD6], xmm, RSP, at);
                    // movq m64, xmm
                    } else {
                        let reg = GPR[(m.dst / 8) as usize];
                        a.mem(None, true, &[0x89], reg, RSP, at); // mov m64, r64
                    }
                }
                a.mem(None, true, &[0x8D], 0, RSP, *store); // lea rax, [rsp + store]
            }
            None => {
                let m = plan.moves_of(arg).first()?;
                if m.op != MoveOp::Copy {
                    return None;
                }
                a.mem(None, true, &[0x8D], 0, RBP, 16 + m.dst - REG_BLOCK);
                // lea rax, [rbp + ..]
            }
        }
        a.mem(None, true, &[0x89], 0, RSP, slot); // mov [rsp + 8 * arg], rax
    }
    a.bytes(&[0x4C, 0x89, 0xD7]); // mov rdi, r10
    if indirect {
        a.mem(None, true, &[0x8B], 6, RSP, ret + 32); // mov rsi, [rsp + ret + 32]
    } else {
        a.mem(None, true, &[0x8D], 6, RSP, ret); // lea rsi, [rsp + ret]
    }
    a.bytes(&[0x48, 0x89, 0xE2]); // mov rdx, rsp
    a.bytes(&[0x41, 0xFF, 0x52, HEADER_INVOKE]); // call [r10 + HEADER_INVOKE]
    match plan.ret {
        RetPlan::Void => {}
        RetPlan::Indirect { .. } => a.mem(None, true, &[0x8B], 0, RSP, ret + 32), // mov rax, [..]
        RetPlan::Regs {
            parts,
            widen: Some(signed),
            ..
        } => match (signed, parts[0].len) {
            (true, 1) => a.mem(None, true, &[0x0F, 0xBE], 0, RSP, ret), // movsx rax, byte
            (true, 2) => a.mem(None, true, &[0x0F, 0xBF], 0, RSP, ret), // movsx rax, word
            (true, _) => a.mem(None, true, &[0x63], 0, RSP, ret),       // movsxd rax, dword
            (false, 1) => a.mem(None, false, &[0x0F, 0xB6], 0, RSP, ret), // movzx eax, byte
            (false, 2) => a.mem(None, false, &[0x0F, 0xB7], 0, RSP, ret), // movzx eax, word
            (false, _) => a.mem(None, false, &[0x8B], 0, RSP, ret),     // mov eax, dword
        },
        RetPlan::Regs {
            parts,
            count,
            widen: None,
        } => {
            for part in &parts[..count as usize] {
                let at = ret + u32::from(part.off);
                match part.reg {
                    RetReg::Int0 => a.mem(None, true, &[0x8B], 0, RSP, at), // mov rax, m64
                    RetReg::Int1 => a.mem(None, true, &[0x8B], 2, RSP, at), // mov rdx, m64
                    RetReg::Vec0 => a.mem(Some(0xF3), false, &[0x0F, 0x7E], 0, RSP, at), // movq
                    RetReg::Vec1 => a.mem(Some(0xF3), false, &[0x0F, 0x7E], 1, RSP, at),
                    RetReg::Vec2 | RetReg::Vec3 => return None,
                }
            }
        }
        RetPlan::X87 { count } => {
            if count == 2 {
                a.mem(None, false, &[0xDB], 5, RSP, ret + 16); // fld tbyte [imaginary]
            }
            a.mem(None, false, &[0xDB], 5, RSP, ret); // fld tbyte [real]
        }
    }
    a.bytes(&[0xC9, 0xC3]); // leave; ret
    Some(a.0)
}

// The golden tables assume the x86_64 data model (8-byte pointers, 8-aligned double,
// 16-byte long double), which these ABIs only meet on x86_64 hosts.
#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;
    use crate::arch::x86::sysv64::plan;
    use crate::dynamic::types::Type;
    use alloc::string::String;
    use capstone::arch::BuildsCapstone;
    use capstone::Capstone;

    fn disasm(code: &[u8]) -> Vec<String> {
        let cs = Capstone::new()
            .x86()
            .mode(capstone::arch::x86::ArchMode::Mode64)
            .build()
            .unwrap();
        let insns = cs.disasm_all(code, 0).unwrap();
        let text: Vec<String> = insns
            .iter()
            .map(|i| alloc::format!("{} {}", i.mnemonic().unwrap(), i.op_str().unwrap()))
            .collect();
        let decoded: usize = insns.iter().map(|i| i.len()).sum();
        assert_eq!(decoded, code.len(), "undecodable bytes in {text:?}");
        text
    }

    #[test]
    fn two_u64_stub() {
        let p = plan(&[Type::U64, Type::I8], &Type::U64, None).unwrap();
        let text = disasm(&emit_sysv64(&p).unwrap());
        assert_eq!(
            text,
            [
                "push rbx",
                "mov rbx, rsi",
                "mov r11, rdi",
                "mov r10, rdx",
                "mov rax, qword ptr [r10]",
                "mov rdi, qword ptr [rax]",
                "mov rax, qword ptr [r10 + 8]",
                "movsx rsi, byte ptr [rax]",
                "mov eax, 8",
                "call r11",
                "test rbx, rbx",
                "je 0x38",
                "mov qword ptr [rbx], rax",
                "pop rbx",
                "ret ",
            ]
        );
    }

    #[test]
    fn structs_floats_stack_and_sret() {
        let mixed = Type::structure([Type::F64, Type::I32]).unwrap();
        let big = Type::structure([Type::F64, Type::I32, Type::F32, Type::U8]).unwrap();
        let p = plan(&[mixed, Type::F32, big.clone()], &big, None).unwrap();
        let text = disasm(&emit_sysv64(&p).unwrap()).join("; ");
        for expect in [
            "sub rsp, 0x40",
            "mov rcx, qword ptr [rax + 0x10]; mov qword ptr [rsp + 0x10], rcx",
            "lea rbx, [rsp + 0x20]",
            "movq xmm0, qword ptr [rax]",
            "mov rsi, qword ptr [rax + 8]",
            "movd xmm1, dword ptr [rax]",
            "mov rdi, rbx",
            "add rsp, 0x40",
        ] {
            assert!(text.contains(expect), "{expect} not in {text}");
        }
    }

    #[test]
    fn closure_entry() {
        let mixed = Type::structure([Type::F64, Type::I32]).unwrap();
        let args = [Type::I8, mixed, Type::F32];
        let mut many = alloc::vec![Type::I64; 6];
        many.push(Type::I64);
        let p = plan(&args, &Type::U16, None).unwrap();
        let text = disasm(&emit_closure_sysv64(&p, 3).unwrap()).join("; ");
        for expect in [
            "push rbp; mov rbp, rsp; sub rsp, 0x80",
            "mov qword ptr [rsp + 0x20], rdi; lea rax, [rsp + 0x20]; mov qword ptr [rsp], rax",
            "movq qword ptr [rsp + 0x30], xmm0; mov qword ptr [rsp + 0x38], rsi",
            "movq qword ptr [rsp + 0x40], xmm1",
            "mov rdi, r10; lea rsi, [rsp + 0x50]; mov rdx, rsp; call qword ptr [r10 + 0x20]",
            "movzx eax, word ptr [rsp + 0x50]; leave ; ret",
        ] {
            assert!(text.contains(expect), "{expect} not in {text}");
        }
        let p = plan(&many, &Type::complex_long_double(), None).unwrap();
        let text = disasm(&emit_closure_sysv64(&p, 7).unwrap()).join("; ");
        assert!(
            text.contains("lea rax, [rbp + 0x10]; mov qword ptr [rsp + 0x30], rax"),
            "{text}"
        );
        assert!(text.contains("fld xword ptr [rsp + 0x"), "{text}");
    }

    #[test]
    fn returns_and_refusals() {
        let s = |m: &[Type]| Type::structure(m.iter().cloned()).unwrap();
        let text = disasm(&emit_sysv64(&plan(&[], &Type::I16, None).unwrap()).unwrap()).join("; ");
        assert!(
            text.contains("movsx rax, ax; mov qword ptr [rbx], rax"),
            "{text}"
        );
        let ret = s(&[Type::F32, Type::F32, Type::F32]);
        let text = disasm(&emit_sysv64(&plan(&[], &ret, None).unwrap()).unwrap()).join("; ");
        assert!(
            text.contains("movq qword ptr [rbx], xmm0; movd dword ptr [rbx + 8], xmm1"),
            "{text}"
        );
        let text =
            disasm(&emit_sysv64(&plan(&[], &Type::complex_long_double(), None).unwrap()).unwrap())
                .join("; ");
        assert!(
            text.contains("fstp xword ptr [rbx]; fstp xword ptr [rbx + 0x10]"),
            "{text}"
        );
        // A 3-byte struct in a register needs a 3-byte load: not covered.
        let odd = s(&[Type::U8, Type::U8, Type::U8]);
        assert!(emit_sysv64(&plan(&[odd], &Type::VOID, None).unwrap()).is_none());
        // Over a page of stack arguments: not covered.
        let many = alloc::vec![Type::F64; 8 + 600];
        assert!(emit_sysv64(&plan(&many, &Type::VOID, None).unwrap()).is_none());
    }
}
