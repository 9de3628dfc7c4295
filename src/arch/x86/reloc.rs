//! The x86 / x86_64 relocator: makes a thunk template's prologue position-independent.
//!
//! A thunk is a copy, at an arbitrary address, of its template's code from the entry through
//! the stub (see [`crate::arch::x86`]), followed by a jump back into the template. [`relocate`]
//! rewrites that byte range once per template; every thunk is then a `memcpy`, a store of the
//! closure pointer at [`PreparedTemplate::closure_slot`] and the (i686 only) [`Fixup`]s.
//!
//! # Output layout
//!
//! ```text
//!  x86_64 (no fixups)                         i686
//!  +--------------------------------------+   +--------------------------------------+
//!  | relocated prologue                   |   | relocated prologue                   |
//!  |   (call out: FF 15 = call [rip+lit]) |   |   (call out: E8 rel32 + fixup)       |
//!  +--------------------------------------+   +--------------------------------------+
//!  | REX.W(+B) B8+r imm64   stub's movabs |   | B8+r imm32             stub's mov    |
//!  |           ^ closure_slot (= +2)      |   |      ^ closure_slot (= +1)           |
//!  +--------------------------------------+   +--------------------------------------+
//!  | FF 25 disp32   jmp [rip+lit(cont)]   |   | E9 rel32   jmp continuation + fixup  |
//!  +--------------------------------------+   +--------------------------------------+
//!  | CC .. CC       up to 8-byte boundary |
//!  +--------------------------------------+
//!  | u64 literals, in order of first use: |
//!  |   call targets, continuation         |
//!  +--------------------------------------+
//! ```
//!
//! The continuation is `entry + code.len()`, the template instruction right after the magic.
//! The magic itself is not copied. The pool is 8-byte aligned relative to the start of the
//! code, so it is aligned in memory when the copy is.
//!
//! # Rules
//!
//! The prologue (entry up to the stub's `mov`) is decoded with Capstone one instruction at a
//! time; each instruction is handled by the first rule that matches:
//!
//! 1. **Stub.** The last 16 bytes are the magic, preceded by `EB 10` or `E9 10 00 00 00` (a
//!    jump to the end of the input), preceded by `REX.W(+B) B8+r PLACEHOLDER_64` (x86_64) or
//!    `B8+r PLACEHOLDER_32` (i686). Anything else is [`RelocError::MalformedStub`]. The
//!    prologue must decode exactly up to the stub, else [`RelocError::Decode`].
//! 2. **Relative branches into the copied block** (target in `entry..=stub`, on an instruction
//!    boundary; the stub's `mov` counts, as a compiler may branch straight to it): `jmp` is
//!    re-emitted as `E9 rel32`, `jcc` as `0F 8x rel32`, and the displacement recomputed for the
//!    new layout. `jrcxz`/`loop*` (no rel32 form) are unsupported.
//! 3. **Relative branches out of the block**: `call rel32` becomes `call [rip+lit]` (x86_64)
//!    or `E8 rel32` plus a [`Fixup::Rel32`] (i686). `jmp`/`jcc` out of the block are
//!    unsupported.
//! 4. **i686 get-PC idioms** become `mov r32, imm32` with the value the original code computes:
//!    `call $+5; pop r32`, and `call __x86.get_pc_thunk.r` (recognised through [`Peek`] as
//!    `8B modrm 24 C3`, `mov r32, [esp]; ret`).
//! 5. **x86_64 RIP-relative operands**: `lea r64, [rip+d]` becomes `movabs r64, target`;
//!    `mov r64|r32, [rip+d]` becomes `movabs r64, target; mov r64|r32, [r64]` (not into the
//!    stack pointer, which must stay a stack). Any other instruction with a `[rip+disp32]`
//!    operand is re-encoded with `[S]` and run between a save and a restore of a scratch
//!    register `S` holding the target (see [Through a scratch register](#through-a-scratch-register)).
//! 6. **Control flow that cannot be moved** (`ret`, `int*`, `iret`, `ud*`, `hlt`, `syscall`,
//!    `sysenter`, indirect or far `jmp`/`call`, `xbegin`, prefixed relative branches, a
//!    `call` into the block) is unsupported.
//! 7. Everything else is copied verbatim.
//!
//! Every rewritten form has a length that depends only on the original instruction, so the
//! layout is one pass (old offset -> new offset) and branch displacements are patched in a
//! second pass. Relocation fails closed: nothing is ever truncated, and no input panics.
//!
//! # Through a scratch register
//!
//! Optimised templates hoist argument conversions above the stub, and those read constant
//! pools: `ucomiss xmm2, dword ptr [rip+d]`, `movsd xmm0, qword ptr [rip+d]`, and so on.
//! The copy can be anywhere in the address space, so such an operand must become absolute.
//! An instruction `I` whose ModRM operand is `[rip+disp32]` (target = end of the *original*
//! instruction + disp32, any immediate included) is emitted as:
//!
//! ```text
//!  48 8D 64 24 80            lea  rsp, [rsp - 0x80]   ; step over the SysV red zone
//!  50+S                      push S                   ; S: rsi, rdi, rbx, rcx, rdx or rax
//!  48 B8+S imm64             movabs S, target
//!  I with ModRM 00 reg S     I, with [S] for [rip+disp32] (the 4 displacement bytes gone)
//!  58+S                      pop  S
//!  48 8D A4 24 80 00 00 00   lea  rsp, [rsp + 0x80]
//! ```
//!
//! None of the added instructions touches the flags, so a comparison's result survives
//! them. `lea` moves the stack pointer by 128 bytes first, so the `push` does not overwrite
//! the red zone, which the template may use (on Win64 this is merely unnecessary). The
//! stack pointer is never anything but a stack, so a signal can arrive at any point.
//!
//! `S` is the first of rsi, rdi, rbx, rcx, rdx, rax that `I` neither reads nor writes,
//! explicitly or implicitly (Capstone's register accesses and operands, every sub-register
//! counting as its GPR). The order starts with the registers that no instruction with a
//! ModRM memory operand uses implicitly, so that it relies as little as possible on those
//! lists. Only registers 0-7 other than rsp (4: needs a SIB byte) and rbp (5: `mod = 00,
//! r/m = 101` means `[rip+disp32]`) are candidates, so `[S]` is a bare ModRM and `S` needs
//! no REX.B: a REX prefix gets its B bit cleared (a bare `40` stays, it changes what
//! `ah`-`bh` mean), a three-byte VEX prefix (`C4`) gets its inverted B bit set, and a
//! two-byte VEX prefix (`C5`) has no B bit.
//!
//! Refused: an instruction that reads or writes the stack pointer (`push`/`pop [rip+d]`,
//! `mov [rip+d], rsp`, ...; `call`/`jmp [rip+d]` are refused as indirect branches), an
//! address-size prefix (`[eip+d]`), EVEX (`62`), XOP (`8F` with a non-zero ModRM `reg`) and
//! 3DNow! (`0F 0F`) encodings, any layout on which Capstone and our own prefix and opcode
//! walk disagree, and an instruction that uses all six candidates.

use alloc::vec::Vec;

use capstone::arch::x86::{
    ArchMode, ArchSyntax, X86Insn, X86InsnGroup, X86Operand, X86OperandType, X86Reg,
};
use capstone::arch::{BuildsCapstone, BuildsCapstoneSyntax, DetailsArchInsn};
use capstone::{Capstone, InsnDetail, RegId};

use crate::arch::x86::{MAGIC, PLACEHOLDER_32, PLACEHOLDER_64};
use crate::thunk::{Fixup, PreparedTemplate, RelocError};

/// Operand width of the code being relocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bits {
    /// i686: 32-bit protected mode, `B8+r imm32` stub, [`Fixup::Rel32`] for outside calls.
    B32,
    /// x86_64: 64-bit long mode, `movabs` stub, literal pool, no fixups.
    B64,
}

/// Reads 4 bytes of code at an absolute address.
///
/// Used only on i686, on the targets of `call rel32` out of the prologue, to recognise the
/// `__x86.get_pc_thunk.*` helpers (`8B 1C 24 C3` = `mov ebx, [esp]; ret`, and the same with
/// other registers). Returning `None` means "not a get-PC helper".
pub type Peek<'a> = &'a dyn Fn(u64) -> Option<[u8; 4]>;

/// Longest prologue (bytes before the stub) that is relocated; bounds the decoding work.
pub const MAX_PROLOGUE_LEN: usize = 4096;

/// `jmp rel8` over the magic, as assemblers emit it.
const STUB_JMP_SHORT: [u8; 2] = [0xEB, 0x10];
/// `jmp rel32` over the magic.
const STUB_JMP_NEAR: [u8; 5] = [0xE9, 0x10, 0x00, 0x00, 0x00];
/// Filler between the jump back and the literal pool (`int3`).
const POOL_PAD: u8 = 0xCC;
/// Alignment of the x86_64 literal pool.
const POOL_ALIGN: usize = 8;

/// Relocates a thunk template's prologue and stub.
///
/// `code` is the template from its entry through the **end** of the 16-byte magic (the caller
/// found the magic: it is exactly the last 16 bytes); `entry` is the absolute address of
/// `code[0]`; `peek` reads template-process code for the i686 get-PC helper check.
///
/// The result runs at any address: on x86_64 it has no fixups; on i686 every relative
/// `call`/`jmp` to outside the copy has a [`Fixup::Rel32`]. See the
/// [module documentation](self) for the rules and the output layout.
///
/// # Errors
/// [`RelocError::MalformedStub`] if the stub does not have the expected shape,
/// [`RelocError::Decode`] if an instruction before it cannot be decoded,
/// [`RelocError::Unsupported`] for an instruction that cannot be moved,
/// [`RelocError::OutOfRange`] if an address or displacement does not fit (including an
/// `entry` that is not a 32-bit address for [`Bits::B32`]), and
/// [`RelocError::Disassembler`] if Capstone cannot be initialised.
///
/// # Example
///
/// ```
/// use closure_ffi::arch::x86::reloc::{relocate, Bits};
/// use closure_ffi::arch::x86::{MAGIC, PLACEHOLDER_64};
///
/// // push rbp; then the stub: movabs rax, PLACEHOLDER; jmp over the magic; the magic.
/// let mut code = vec![0x55, 0x48, 0xB8];
/// code.extend_from_slice(&PLACEHOLDER_64.to_le_bytes());
/// code.extend_from_slice(&[0xEB, 0x10]);
/// code.extend_from_slice(&MAGIC);
///
/// let entry = 0x7000_1000;
/// let prepared = relocate(Bits::B64, &code, entry, &|_| None)?;
/// assert_eq!(prepared.code[..3], [0x55, 0x48, 0xB8]); // push rbp; movabs rax, ..
/// assert_eq!(prepared.closure_slot, 3);
/// assert_eq!(prepared.code[11..13], [0xFF, 0x25]); // jmp [rip+literal]
/// let literal = &prepared.code[prepared.code.len() - 8..];
/// assert_eq!(literal, (entry + code.len() as u64).to_le_bytes()); // the continuation
/// assert!(prepared.fixups.is_empty());
/// # Ok::<(), closure_ffi::thunk::RelocError>(())
/// ```
pub fn relocate(
    bits: Bits,
    code: &[u8],
    entry: u64,
    peek: Peek<'_>,
) -> Result<PreparedTemplate, RelocError> {
    let stub = find_stub(bits, code)?;
    let prologue = code.get(..stub.start).ok_or(RelocError::MalformedStub)?;
    if prologue.len() > MAX_PROLOGUE_LEN {
        return Err(RelocError::Unsupported {
            offset: MAX_PROLOGUE_LEN,
            what: "prologue longer than MAX_PROLOGUE_LEN",
        });
    }
    let continuation = continuation_address(bits, entry, code.len())?;
    let ctx = Context {
        bits,
        entry,
        stub_start: stub.start,
        prologue,
        peek,
    };
    let items = decode_prologue(&ctx)?;
    emit(&ctx, &items, &stub, continuation)
}

/// Checks that the whole input lies in the address space of `bits`; returns the continuation
/// (`entry + len`).
fn continuation_address(bits: Bits, entry: u64, len: usize) -> Result<u64, RelocError> {
    let out_of_range = RelocError::OutOfRange { offset: 0 };
    let continuation = u64::try_from(len)
        .ok()
        .and_then(|len| entry.checked_add(len))
        .ok_or(out_of_range)?;
    match bits {
        Bits::B64 => Ok(continuation),
        Bits::B32 if continuation <= u64::from(u32::MAX) => Ok(continuation),
        Bits::B32 => Err(out_of_range),
    }
}

/// The stub as found at the end of the input.
#[derive(Debug, Clone, Copy)]
struct Stub {
    /// Offset of the stub's `mov` (= length of the prologue).
    start: usize,
    /// Hardware number (0-15) of the register the stub loads.
    reg: u8,
}

/// Matches `mov r, PLACEHOLDER; jmp end; MAGIC` at the end of `code` (rule 1).
fn find_stub(bits: Bits, code: &[u8]) -> Result<Stub, RelocError> {
    let malformed = RelocError::MalformedStub;
    let body = code.strip_suffix(&MAGIC[..]).ok_or(malformed)?;
    let body = body
        .strip_suffix(&STUB_JMP_SHORT[..])
        .or_else(|| body.strip_suffix(&STUB_JMP_NEAR[..]))
        .ok_or(malformed)?;
    let mov_len = match bits {
        Bits::B64 => 10,
        Bits::B32 => 5,
    };
    let start = body.len().checked_sub(mov_len).ok_or(malformed)?;
    let mov = body.get(start..).ok_or(malformed)?;
    let reg = match (bits, mov) {
        (Bits::B64, [rex @ (0x48 | 0x49), op @ 0xB8..=0xBF, imm @ ..])
            if imm == PLACEHOLDER_64.to_le_bytes() =>
        {
            ((rex & 1) << 3) | (op - 0xB8)
        }
        (Bits::B32, [op @ 0xB8..=0xBF, imm @ ..]) if imm == PLACEHOLDER_32.to_le_bytes() => {
            op - 0xB8
        }
        _ => return Err(malformed),
    };
    Ok(Stub { start, reg })
}

/// What the relocator knows about the input while decoding it.
struct Context<'a> {
    bits: Bits,
    entry: u64,
    /// Offset of the stub's `mov`; also the length of `prologue`.
    stub_start: usize,
    prologue: &'a [u8],
    peek: Peek<'a>,
}

impl Context<'_> {
    /// Absolute address of input offset `off` (`off <= code.len()`, checked not to overflow by
    /// [`continuation_address`]).
    fn address(&self, off: usize) -> u64 {
        self.entry.wrapping_add(off as u64)
    }

    /// Absolute target of a displacement `disp` relative to the end of the instruction
    /// occupying `off..end`. i686 addresses wrap at 4 GiB like the hardware does.
    fn target(&self, off: usize, end: usize, disp: i64) -> Result<u64, RelocError> {
        let next = self.address(end);
        match self.bits {
            Bits::B64 => next
                .checked_add_signed(disp)
                .ok_or(RelocError::OutOfRange { offset: off }),
            // `next` fits in 32 bits (checked by `continuation_address`); the truncation of
            // `disp` is the modular arithmetic of a 32-bit EIP.
            Bits::B32 => Ok(u64::from((next as u32).wrapping_add(disp as u32))),
        }
    }

    /// The input offset of `target` if it lies in the copied block (prologue or the stub's
    /// `mov`), where a branch can be redirected to the copy.
    fn inside(&self, target: u64) -> Option<usize> {
        let off = usize::try_from(target.checked_sub(self.entry)?).ok()?;
        (off <= self.stub_start).then_some(off)
    }
}

/// How a prologue instruction is re-emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rewrite {
    /// Copied byte for byte (`len` bytes).
    Verbatim,
    /// `E9 rel32` to the copy of the instruction at input offset `target`.
    Jmp { target: usize },
    /// `0F 80+cc rel32` to the copy of the instruction at input offset `target`.
    Jcc { cc: u8, target: usize },
    /// A call out of the block: `FF 15 disp32` + literal (x86_64), `E8 rel32` + fixup (i686).
    CallOut { target: u64 },
    /// `B8+r imm32`: an i686 get-PC idiom replaced by its result.
    MovImm32 { reg: u8, value: u32 },
    /// `REX.W(+B) B8+r imm64`: `lea r64, [rip+d]` replaced by its result.
    MovAbs { reg: u8, value: u64 },
    /// `movabs r64, address; mov r, [r64]`: a RIP-relative load into a GPR.
    LoadAbs { reg: u8, wide: bool, address: u64 },
    /// `lea rsp, [rsp-128]; push S; movabs S, address; insn; pop S; lea rsp, [rsp+128]`: any
    /// other RIP-relative operand, `insn` being the instruction with `[S]` for `[rip+disp32]`.
    ThroughScratch {
        scratch: u8,
        address: u64,
        insn: Rebased,
    },
}

/// Longest x86 instruction.
const MAX_INSN_LEN: usize = 15;

/// An instruction re-encoded with `[S]` in place of `[rip+disp32]` (4 bytes shorter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rebased {
    bytes: [u8; MAX_INSN_LEN],
    len: u8,
}

impl Rebased {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

/// One decoded prologue instruction (or the two of a `call $+5; pop` pair).
#[derive(Debug, Clone, Copy)]
struct Item {
    /// Offset in the input.
    offset: usize,
    /// Bytes of input covered.
    len: usize,
    rewrite: Rewrite,
}

/// Decodes the prologue and picks a [`Rewrite`] for every instruction.
fn decode_prologue(ctx: &Context<'_>) -> Result<Vec<Item>, RelocError> {
    let mode = match ctx.bits {
        Bits::B64 => ArchMode::Mode64,
        Bits::B32 => ArchMode::Mode32,
    };
    let cs = Capstone::new()
        .x86()
        .mode(mode)
        .syntax(ArchSyntax::Intel)
        .detail(true)
        .build()
        .map_err(|_| RelocError::Disassembler)?;
    let mut iter = cs
        .disasm_iter(ctx.prologue, ctx.entry)
        .map_err(|_| RelocError::Disassembler)?;
    let mut items = Vec::new();
    let mut offset = 0;
    // Terminates: every iteration consumes at least one byte of a bounded prologue.
    while offset < ctx.prologue.len() {
        let decode_error = RelocError::Decode { offset };
        let (rewrite, len) = {
            let insn = iter.next().ok_or(decode_error)?;
            let len = insn.len();
            let end = offset.checked_add(len).ok_or(decode_error)?;
            let bytes = ctx.prologue.get(offset..end).ok_or(decode_error)?;
            if len == 0 || insn.address() != ctx.address(offset) || insn.bytes() != bytes {
                return Err(decode_error);
            }
            let detail = cs.insn_detail(&insn).map_err(|_| decode_error)?;
            classify(ctx, offset, bytes, insn.id().0, &detail)?
        };
        items.push(Item {
            offset,
            len,
            rewrite,
        });
        let next = offset
            .checked_add(len)
            .ok_or(RelocError::Decode { offset })?;
        if iter.addr() != ctx.address(next) {
            // The rewrite covers more than the decoded instruction (`call $+5; pop`):
            // resume decoding after it.
            let rest = ctx
                .prologue
                .get(next..)
                .ok_or(RelocError::Decode { offset })?;
            iter.reset(rest, ctx.address(next));
        }
        offset = next;
    }
    Ok(items)
}

/// Instructions that cannot run from a copy, checked before Capstone's groups (which would
/// call `syscall` an interrupt and `xbegin` a relative branch).
const UNMOVABLE: &[(X86Insn, &str)] = &[
    (X86Insn::X86_INS_UD0, "undefined instruction"),
    (X86Insn::X86_INS_UD1, "undefined instruction"),
    (X86Insn::X86_INS_UD2, "undefined instruction"),
    (X86Insn::X86_INS_HLT, "hlt"),
    (X86Insn::X86_INS_SYSCALL, "system call"),
    (X86Insn::X86_INS_SYSENTER, "system call"),
    (X86Insn::X86_INS_SYSEXIT, "system call"),
    (X86Insn::X86_INS_SYSRET, "system call"),
    (X86Insn::X86_INS_XBEGIN, "xbegin (relative abort target)"),
    (X86Insn::X86_INS_LJMP, "far branch"),
    (X86Insn::X86_INS_LCALL, "far branch"),
];

/// Picks the rewrite for the instruction `bytes` at `offset`; returns it with the number of
/// input bytes it covers.
fn classify(
    ctx: &Context<'_>,
    offset: usize,
    bytes: &[u8],
    id: u32,
    detail: &InsnDetail<'_>,
) -> Result<(Rewrite, usize), RelocError> {
    let len = bytes.len();
    let unsupported = |what| RelocError::Unsupported { offset, what };
    let in_group = |group: u32| detail.groups().iter().any(|g| u32::from(g.0) == group);

    if let Some(branch) = RelBranch::parse(bytes) {
        return classify_branch(ctx, offset, len, branch);
    }
    if let Some(&(_, what)) = UNMOVABLE.iter().find(|&&(insn, _)| insn as u32 == id) {
        return Err(unsupported(what));
    }
    if in_group(X86InsnGroup::X86_GRP_BRANCH_RELATIVE) {
        return Err(unsupported("prefixed relative branch"));
    }
    if in_group(X86InsnGroup::X86_GRP_RET) {
        return Err(unsupported("return"));
    }
    if in_group(X86InsnGroup::X86_GRP_INT) || in_group(X86InsnGroup::X86_GRP_IRET) {
        return Err(unsupported("interrupt"));
    }
    if in_group(X86InsnGroup::X86_GRP_JUMP) || in_group(X86InsnGroup::X86_GRP_CALL) {
        return Err(unsupported("indirect branch"));
    }
    if ctx.bits == Bits::B64 && is_rip_relative(detail, bytes) {
        let rewrite = rip_relative(ctx, offset, bytes, detail)?;
        return Ok((rewrite, len));
    }
    Ok((Rewrite::Verbatim, len))
}

/// A relative branch in one of its unprefixed encodings.
#[derive(Debug, Clone, Copy)]
struct RelBranch {
    kind: BranchKind,
    /// Displacement from the end of the instruction.
    disp: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BranchKind {
    Jmp,
    /// Condition code (low nibble of the opcode).
    Jcc(u8),
    Call,
    /// `loop`, `loope`, `loopne`, `jecxz`/`jrcxz`: rel8 only.
    Rel8Only,
}

impl RelBranch {
    /// Matches the exact bytes of an unprefixed relative branch.
    fn parse(bytes: &[u8]) -> Option<Self> {
        let rel8 = |d: u8| i64::from(d as i8);
        let rel32 = |d: [u8; 4]| i64::from(i32::from_le_bytes(d));
        let (kind, disp) = match *bytes {
            [0xEB, d] => (BranchKind::Jmp, rel8(d)),
            [0xE9, a, b, c, d] => (BranchKind::Jmp, rel32([a, b, c, d])),
            [op @ 0x70..=0x7F, d] => (BranchKind::Jcc(op & 0x0F), rel8(d)),
            [0x0F, op @ 0x80..=0x8F, a, b, c, d] => {
                (BranchKind::Jcc(op & 0x0F), rel32([a, b, c, d]))
            }
            [0xE8, a, b, c, d] => (BranchKind::Call, rel32([a, b, c, d])),
            [0xE0..=0xE3, d] => (BranchKind::Rel8Only, rel8(d)),
            _ => return None,
        };
        Some(RelBranch { kind, disp })
    }
}

/// Rules 2-4 for a relative branch of `len` bytes at `offset`.
fn classify_branch(
    ctx: &Context<'_>,
    offset: usize,
    len: usize,
    branch: RelBranch,
) -> Result<(Rewrite, usize), RelocError> {
    let unsupported = |what| RelocError::Unsupported { offset, what };
    let end = offset
        .checked_add(len)
        .ok_or(RelocError::OutOfRange { offset })?;
    let target = ctx.target(offset, end, branch.disp)?;
    let inside = ctx.inside(target);
    match (branch.kind, inside) {
        (BranchKind::Rel8Only, _) => Err(unsupported("jrcxz/loop (no rel32 form)")),
        (BranchKind::Jmp, Some(target)) => Ok((Rewrite::Jmp { target }, len)),
        (BranchKind::Jmp, None) => Err(unsupported("jump out of the prologue")),
        (BranchKind::Jcc(cc), Some(target)) => Ok((Rewrite::Jcc { cc, target }, len)),
        (BranchKind::Jcc(_), None) => Err(unsupported("conditional jump out of the prologue")),
        (BranchKind::Call, _) => classify_call(ctx, offset, len, end, target, inside),
    }
}

/// Rules 3-4 for `call rel32` at `offset..end` to `target`.
fn classify_call(
    ctx: &Context<'_>,
    offset: usize,
    len: usize,
    end: usize,
    target: u64,
    inside: Option<usize>,
) -> Result<(Rewrite, usize), RelocError> {
    if ctx.bits == Bits::B32 {
        // The return address fits in 32 bits: checked by `continuation_address`.
        let value = ctx.address(end) as u32;
        // call $+5; pop r32 (the pop must be in the prologue, not the stub).
        if inside == Some(end) && end < ctx.stub_start {
            if let Some(&pop @ 0x58..=0x5F) = ctx.prologue.get(end) {
                let pair = len
                    .checked_add(1)
                    .ok_or(RelocError::OutOfRange { offset })?;
                return Ok((
                    Rewrite::MovImm32 {
                        reg: pop - 0x58,
                        value,
                    },
                    pair,
                ));
            }
        }
        // call __x86.get_pc_thunk.r (mov r32, [esp]; ret); r = esp is not a get-PC helper.
        if inside.is_none() {
            if let Some([0x8B, modrm, 0x24, 0xC3]) = (ctx.peek)(target) {
                let reg = (modrm >> 3) & 7;
                if modrm & 0xC7 == 0x04 && reg != 4 {
                    return Ok((Rewrite::MovImm32 { reg, value }, len));
                }
            }
        }
    }
    match inside {
        // The pushed return address would point into the copy, and a prologue cannot
        // contain the `ret` that would consume it: the callee uses it as data.
        Some(_) => Err(RelocError::Unsupported {
            offset,
            what: "call into the prologue",
        }),
        None => Ok((Rewrite::CallOut { target }, len)),
    }
}

/// Whether an x86_64 instruction has a RIP- (or EIP-) relative memory operand, according to
/// Capstone's operands or to its ModRM byte (`mod = 00, r/m = 101`).
fn is_rip_relative(detail: &InsnDetail<'_>, bytes: &[u8]) -> bool {
    let arch = detail.arch_detail();
    let Some(x86) = arch.x86() else {
        // Not x86 details: treat as IP-relative, so the instruction is refused.
        return true;
    };
    let ip = |reg: u16| {
        let reg = u32::from(reg);
        reg == X86Reg::X86_REG_RIP || reg == X86Reg::X86_REG_EIP
    };
    let by_operand = x86.operands().any(|op| match op.op_type {
        X86OperandType::Mem(mem) => ip(mem.base().0) || ip(mem.index().0),
        _ => false,
    });
    let modrm_offset = usize::from(x86.encoding().modrm_offset);
    let by_modrm = modrm_offset != 0 && bytes.get(modrm_offset).is_some_and(|m| m & 0xC7 == 0x05);
    by_operand || by_modrm
}

/// Rule 5: the cheap rewrites of `lea r64` and GPR loads, else [`through_scratch`].
fn rip_relative(
    ctx: &Context<'_>,
    offset: usize,
    bytes: &[u8],
    detail: &InsnDetail<'_>,
) -> Result<Rewrite, RelocError> {
    let end = offset
        .checked_add(bytes.len())
        .ok_or(RelocError::OutOfRange { offset })?;
    let target = |d: [u8; 4]| ctx.target(offset, end, i64::from(i32::from_le_bytes(d)));
    let reg = |rex: u8, modrm: u8| ((rex & 0x04) << 1) | ((modrm >> 3) & 7);
    let load = |reg: u8, wide: bool, d: [u8; 4]| {
        // Between the two instructions of the rewrite the stack pointer would hold the
        // address, not a stack: a signal delivered there would write through it.
        if reg == 4 {
            return Err(RelocError::Unsupported {
                offset,
                what: "RIP-relative load into the stack pointer",
            });
        }
        Ok(Rewrite::LoadAbs {
            reg,
            wide,
            address: target(d)?,
        })
    };
    match *bytes {
        // lea r64, [rip+d]
        [rex, 0x8D, modrm, a, b, c, d] if rex & 0xF8 == 0x48 && modrm & 0xC7 == 0x05 => {
            Ok(Rewrite::MovAbs {
                reg: reg(rex, modrm),
                value: target([a, b, c, d])?,
            })
        }
        // mov r64, [rip+d]
        [rex, 0x8B, modrm, a, b, c, d] if rex & 0xF8 == 0x48 && modrm & 0xC7 == 0x05 => {
            load(reg(rex, modrm), true, [a, b, c, d])
        }
        // mov r32, [rip+d], with a REX prefix for r8d-r15d
        [rex @ 0x40..=0x47, 0x8B, modrm, a, b, c, d] if modrm & 0xC7 == 0x05 => {
            load(reg(rex, modrm), false, [a, b, c, d])
        }
        [0x8B, modrm, a, b, c, d] if modrm & 0xC7 == 0x05 => {
            load(reg(0, modrm), false, [a, b, c, d])
        }
        _ => through_scratch(ctx, offset, bytes, detail),
    }
}

/// Rule 5, general case: `bytes` re-encoded with `[S]` for `[rip+disp32]`, run with the
/// scratch register `S` holding the target (see the [module documentation](self)).
fn through_scratch(
    ctx: &Context<'_>,
    offset: usize,
    bytes: &[u8],
    detail: &InsnDetail<'_>,
) -> Result<Rewrite, RelocError> {
    let unsupported = |what| RelocError::Unsupported { offset, what };
    let unrecognised = unsupported("RIP-relative operand in an unrecognised encoding");
    let arch = detail.arch_detail();
    let x86 = arch.x86().ok_or(unrecognised)?;

    let used = UsedGprs::of(detail, x86.operands());
    if used.stack_pointer {
        return Err(unsupported(
            "RIP-relative operand of an instruction that uses the stack pointer",
        ));
    }
    let layout = RipLayout::parse(bytes).map_err(unsupported)?;
    // Capstone must agree on the ModRM byte and see exactly one memory operand, [rip+disp32]
    // with the displacement we are about to drop.
    let disp_at = layout.modrm + 1;
    let disp = bytes
        .get(disp_at..)
        .and_then(|rest| rest.first_chunk::<4>())
        .map(|d| i32::from_le_bytes(*d))
        .ok_or(unrecognised)?;
    let encoding = x86.encoding();
    let mut mems = x86.operands().filter_map(|op| match op.op_type {
        X86OperandType::Mem(mem) => Some(mem),
        _ => None,
    });
    let agrees = usize::from(encoding.modrm_offset) == layout.modrm
        && encoding
            .disp
            .is_some_and(|d| usize::from(d.offset) == disp_at)
        && mems.next().is_some_and(|mem| {
            u32::from(mem.base().0) == X86Reg::X86_REG_RIP
                && u32::from(mem.index().0) == X86Reg::X86_REG_INVALID
                && mem.disp() == i64::from(disp)
        })
        && mems.next().is_none()
        && bytes.get(layout.modrm).is_some_and(|m| m & 0xC7 == 0x05);
    if !agrees {
        return Err(unrecognised);
    }

    let scratch = pick_scratch(used.low).ok_or(unsupported(
        "RIP-relative operand with no free scratch register",
    ))?;
    let end = offset
        .checked_add(bytes.len())
        .ok_or(RelocError::OutOfRange { offset })?;
    Ok(Rewrite::ThroughScratch {
        scratch,
        address: ctx.target(offset, end, i64::from(disp))?,
        insn: layout.rebase(bytes, scratch).ok_or(unrecognised)?,
    })
}

/// Scratch register candidates, in order of preference (hardware numbers). rsi and rdi come
/// first: no instruction with a ModRM memory operand uses them implicitly, so the choice
/// depends least on the completeness of Capstone's implicit register lists. rbx is used
/// implicitly only by `cmpxchg8b`/`cmpxchg16b`; rcx, rdx and rax by many more.
const SCRATCH_ORDER: [u8; 6] = [6, 7, 3, 1, 2, 0];

/// The first candidate whose bit is clear in `used` (bit `n` = GPR `n`, for `n < 8`).
fn pick_scratch(used: u8) -> Option<u8> {
    SCRATCH_ORDER
        .into_iter()
        .find(|&reg| used & (1 << reg) == 0)
}

/// The general-purpose registers 0-7 an instruction reads or writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct UsedGprs {
    /// Bit `n` set: GPR `n` (any of its sub-registers) is used.
    low: u8,
    /// rsp, esp, sp or spl is used (bit 4 of `low` too).
    stack_pointer: bool,
}

impl UsedGprs {
    /// From Capstone's register accesses (explicit and implicit, where Capstone computes
    /// them; implicit only otherwise) and, to be safe, the operands themselves.
    fn of(detail: &InsnDetail<'_>, operands: impl Iterator<Item = X86Operand>) -> Self {
        let mut used = UsedGprs::default();
        let mut add = |reg: RegId| {
            if let Some(n) = low_gpr(u32::from(reg.0)) {
                used.low |= 1 << n;
                used.stack_pointer |= n == 4;
            }
        };
        detail.regs_read().iter().for_each(|&r| add(r));
        detail.regs_write().iter().for_each(|&r| add(r));
        for op in operands {
            match op.op_type {
                X86OperandType::Reg(reg) => add(reg),
                X86OperandType::Mem(mem) => {
                    add(mem.base());
                    add(mem.index());
                }
                _ => {}
            }
        }
        used
    }
}

/// Hardware number of a general-purpose register 0-7 given any of its names (`al`, `ah`,
/// `ax`, `eax`, `rax`, ...).
fn low_gpr(reg: u32) -> Option<u8> {
    use X86Reg::*;
    Some(match reg {
        X86_REG_AL | X86_REG_AH | X86_REG_AX | X86_REG_EAX | X86_REG_RAX => 0,
        X86_REG_CL | X86_REG_CH | X86_REG_CX | X86_REG_ECX | X86_REG_RCX => 1,
        X86_REG_DL | X86_REG_DH | X86_REG_DX | X86_REG_EDX | X86_REG_RDX => 2,
        X86_REG_BL | X86_REG_BH | X86_REG_BX | X86_REG_EBX | X86_REG_RBX => 3,
        X86_REG_SPL | X86_REG_SP | X86_REG_ESP | X86_REG_RSP => 4,
        X86_REG_BPL | X86_REG_BP | X86_REG_EBP | X86_REG_RBP => 5,
        X86_REG_SIL | X86_REG_SI | X86_REG_ESI | X86_REG_RSI => 6,
        X86_REG_DIL | X86_REG_DI | X86_REG_EDI | X86_REG_RDI => 7,
        _ => return None,
    })
}

/// Where the bytes that change when `[rip+disp32]` becomes `[S]` are, found by walking the
/// prefixes and the opcode escape (and cross-checked against Capstone by the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RipLayout {
    /// Offset of a REX prefix (immediately before the opcode).
    rex: Option<usize>,
    /// Offset of the `R X B m-mmmm` byte of a three-byte VEX prefix.
    vex3: Option<usize>,
    /// Offset of the ModRM byte; the displacement follows it.
    modrm: usize,
}

impl RipLayout {
    /// Walks legacy prefixes (66, F2, F3, F0, segments), REX, then a legacy opcode (one
    /// byte, `0F xx`, `0F 38 xx`, `0F 3A xx`) or a VEX prefix and its opcode. Errors name
    /// the encodings that are refused.
    fn parse(bytes: &[u8]) -> Result<Self, &'static str> {
        let unrecognised = "RIP-relative operand in an unrecognised encoding";
        let mut at = 0;
        while let Some(&prefix) = bytes.get(at) {
            match prefix {
                0x66 | 0xF2 | 0xF3 | 0xF0 | 0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 => at += 1,
                0x67 => return Err("RIP-relative operand with an address-size prefix"),
                _ => break,
            }
        }
        // A REX prefix counts only right before the opcode; anything else is refused.
        let rex = match bytes.get(at) {
            Some(0x40..=0x4F) => {
                at += 1;
                Some(at - 1)
            }
            _ => None,
        };
        let opcode = *bytes.get(at).ok_or(unrecognised)?;
        let next = bytes.get(at + 1).copied();
        let (modrm, vex3) = match opcode {
            0x40..=0x4F
            | 0x66
            | 0x67
            | 0xF2
            | 0xF3
            | 0xF0
            | 0x26
            | 0x2E
            | 0x36
            | 0x3E
            | 0x64
            | 0x65 => return Err(unrecognised),
            0xC4 | 0xC5 if rex.is_some() => return Err(unrecognised),
            // C5 [R vvvv L pp] opcode ModRM
            0xC5 => (at + 3, None),
            // C4 [R X B m-mmmm] [W vvvv L pp] opcode ModRM
            0xC4 => (at + 4, Some(at + 1)),
            0x62 => return Err("EVEX-encoded RIP-relative operand"),
            // 8F /0 is `pop r/m`; any other ModRM.reg makes it an XOP prefix.
            0x8F if next.is_some_and(|m| m & 0x38 != 0) => {
                return Err("XOP-encoded RIP-relative operand")
            }
            0x0F => match next {
                Some(0x0F) => return Err("3DNow! RIP-relative operand"),
                Some(0x38 | 0x3A) => (at + 3, None),
                _ => (at + 2, None),
            },
            _ => (at + 1, None),
        };
        Ok(RipLayout { rex, vex3, modrm })
    }

    /// `bytes` with ModRM `00 reg scratch`, the 4 displacement bytes removed and the REX or
    /// VEX B bit cleared. `None` if `bytes` does not have this layout with `[rip+disp32]`.
    fn rebase(&self, bytes: &[u8], scratch: u8) -> Option<Rebased> {
        let modrm = *bytes.get(self.modrm)?;
        let tail = bytes.get(self.modrm.checked_add(5)?..)?;
        if modrm & 0xC7 != 0x05 || !matches!(scratch, 0..=3 | 6 | 7) {
            return None;
        }
        let mut insn = Rebased {
            bytes: [0; MAX_INSN_LEN],
            len: 0,
        };
        let len = self.modrm + 1 + tail.len();
        let out = insn.bytes.get_mut(..len)?;
        out[..self.modrm].copy_from_slice(&bytes[..self.modrm]);
        out[self.modrm] = (modrm & 0x38) | scratch;
        out[self.modrm + 1..].copy_from_slice(tail);
        if let Some(rex) = self.rex {
            // REX.B = 0: r/m is S, not S + 8.
            *out.get_mut(rex)? &= !0x01;
        }
        if let Some(vex) = self.vex3 {
            // Inverted VEX.B = 1, i.e. B = 0.
            *out.get_mut(vex)? |= 0x20;
        }
        insn.len = u8::try_from(len).ok()?;
        Some(insn)
    }
}

/// A displacement to fill in once the layout is known.
#[derive(Debug, Clone, Copy)]
struct Patch {
    /// Offset of the 4 displacement bytes in the output.
    at: usize,
    /// Output offset the displacement is relative to (end of the instruction).
    from: usize,
    to: PatchTarget,
    /// Input offset of the instruction, for errors.
    offset: usize,
}

#[derive(Debug, Clone, Copy)]
enum PatchTarget {
    /// The copy of the instruction at this input offset.
    Insn(usize),
    /// This literal of the pool.
    Literal(usize),
}

/// The output under construction.
#[derive(Debug, Default)]
struct Output {
    code: Vec<u8>,
    patches: Vec<Patch>,
    literals: Vec<u64>,
    fixups: Vec<Fixup>,
}

impl Output {
    /// Appends an instruction ending in a 4-byte displacement patched later to `to`.
    fn push_with_disp(&mut self, opcode: &[u8], to: PatchTarget, offset: usize) {
        self.code.extend_from_slice(opcode);
        let at = self.code.len();
        self.code.extend_from_slice(&[0; 4]);
        let from = self.code.len();
        self.patches.push(Patch {
            at,
            from,
            to,
            offset,
        });
    }

    /// Appends `opcode rel32` whose displacement is applied per copy by a fixup to `target`.
    fn push_with_fixup(&mut self, opcode: u8, target: u64) {
        self.code.push(opcode);
        let at = self.code.len();
        self.code.extend_from_slice(&[0; 4]);
        self.fixups.push(Fixup::Rel32 { at, target });
    }

    /// The pool index of a literal holding `value`.
    fn literal(&mut self, value: u64) -> usize {
        match self.literals.iter().position(|&v| v == value) {
            Some(index) => index,
            None => {
                let index = self.literals.len();
                self.literals.push(value);
                index
            }
        }
    }

    /// `FF /digit disp32` with `[rip+literal]`: `call` (`digit` 2) or `jmp` (4) through a
    /// literal holding `target`.
    fn push_through_literal(&mut self, digit: u8, target: u64, offset: usize) {
        let index = self.literal(target);
        self.push_with_disp(
            &[0xFF, 0x05 | (digit << 3)],
            PatchTarget::Literal(index),
            offset,
        );
    }
}

/// `lea rsp, [rsp - 0x80]` (REX.W 8D, ModRM 01 100 100, SIB 00 100 100, disp8 -128): moves
/// below the 128-byte SysV red zone without touching the flags.
const SKIP_RED_ZONE: [u8; 5] = [0x48, 0x8D, 0x64, 0x24, 0x80];
/// `lea rsp, [rsp + 0x80]` (REX.W 8D, ModRM 10 100 100, SIB 00 100 100, disp32 128: +128
/// does not fit a disp8).
const RESTORE_RED_ZONE: [u8; 8] = [0x48, 0x8D, 0xA4, 0x24, 0x80, 0x00, 0x00, 0x00];

/// `REX.W(+B) B8+r imm64`: `movabs r64, value`.
fn movabs(reg: u8, value: u64) -> [u8; 10] {
    let mut insn = [0; 10];
    let [rex, op, imm @ ..] = &mut insn;
    *rex = 0x48 | (reg >> 3);
    *op = 0xB8 | (reg & 7);
    *imm = value.to_le_bytes();
    insn
}

/// `B8+r imm32`: `mov r32, value`.
fn mov_imm32(reg: u8, value: u32) -> [u8; 5] {
    let mut insn = [0; 5];
    let [op, imm @ ..] = &mut insn;
    *op = 0xB8 | (reg & 7);
    *imm = value.to_le_bytes();
    insn
}

/// `mov r64|r32, [r64]` with the same register as destination and base.
fn push_load_through(code: &mut Vec<u8>, reg: u8, wide: bool) {
    let hi = reg >> 3;
    let rex = (if wide { 0x48 } else { 0x40 }) | (hi << 2) | hi;
    if rex != 0x40 {
        code.push(rex);
    }
    code.push(0x8B);
    let low = reg & 7;
    match low {
        // r/m = 100 needs a SIB byte: [rsp] / [r12] = SIB 0x24.
        4 => code.extend_from_slice(&[0x04 | (low << 3), 0x24]),
        // mod = 00, r/m = 101 would be RIP-relative: use mod = 01 with disp8 = 0.
        5 => code.extend_from_slice(&[0x45 | (low << 3), 0x00]),
        _ => code.push((low << 3) | low),
    }
}

/// Emits the relocated prologue, the stub, the jump back and the literal pool, then patches
/// every displacement.
fn emit(
    ctx: &Context<'_>,
    items: &[Item],
    stub: &Stub,
    continuation: u64,
) -> Result<PreparedTemplate, RelocError> {
    let mut out = Output::default();
    // Pass 1: layout. Each rewrite's size depends only on the input instruction.
    let mut new_offsets = Vec::with_capacity(items.len());
    for item in items {
        new_offsets.push(out.code.len());
        let offset = item.offset;
        match item.rewrite {
            Rewrite::Verbatim => {
                let end = offset
                    .checked_add(item.len)
                    .ok_or(RelocError::Decode { offset })?;
                let bytes = ctx
                    .prologue
                    .get(offset..end)
                    .ok_or(RelocError::Decode { offset })?;
                out.code.extend_from_slice(bytes);
            }
            Rewrite::Jmp { target } => {
                out.push_with_disp(&[0xE9], PatchTarget::Insn(target), offset);
            }
            Rewrite::Jcc { cc, target } => {
                out.push_with_disp(&[0x0F, 0x80 | cc], PatchTarget::Insn(target), offset);
            }
            Rewrite::CallOut { target } => match ctx.bits {
                Bits::B64 => out.push_through_literal(2, target, offset),
                Bits::B32 => out.push_with_fixup(0xE8, target),
            },
            Rewrite::MovImm32 { reg, value } => out.code.extend_from_slice(&mov_imm32(reg, value)),
            Rewrite::MovAbs { reg, value } => out.code.extend_from_slice(&movabs(reg, value)),
            Rewrite::LoadAbs { reg, wide, address } => {
                out.code.extend_from_slice(&movabs(reg, address));
                push_load_through(&mut out.code, reg, wide);
            }
            Rewrite::ThroughScratch {
                scratch,
                address,
                insn,
            } => {
                out.code.extend_from_slice(&SKIP_RED_ZONE);
                out.code.push(0x50 | scratch); // push S
                out.code.extend_from_slice(&movabs(scratch, address));
                out.code.extend_from_slice(insn.as_bytes());
                out.code.push(0x58 | scratch); // pop S
                out.code.extend_from_slice(&RESTORE_RED_ZONE);
            }
        }
    }

    // The stub's load of the closure pointer, then the jump back to the continuation.
    let stub_new = out.code.len();
    let closure_slot = match ctx.bits {
        Bits::B64 => {
            out.code
                .extend_from_slice(&movabs(stub.reg, PLACEHOLDER_64));
            out.push_through_literal(4, continuation, stub.start);
            stub_new + 2
        }
        Bits::B32 => {
            out.code
                .extend_from_slice(&mov_imm32(stub.reg, PLACEHOLDER_32));
            out.push_with_fixup(0xE9, continuation);
            stub_new + 1
        }
    };

    // The literal pool (x86_64 only has literals).
    let mut pool = out.code.len();
    if !out.literals.is_empty() {
        while out.code.len() % POOL_ALIGN != 0 {
            out.code.push(POOL_PAD);
        }
        pool = out.code.len();
        for value in &out.literals {
            out.code.extend_from_slice(&value.to_le_bytes());
        }
    }

    // Pass 2: displacements.
    let new_offset_of = |target: usize| {
        if target == ctx.stub_start {
            return Some(stub_new);
        }
        let index = items
            .binary_search_by_key(&target, |item| item.offset)
            .ok()?;
        new_offsets.get(index).copied()
    };
    for patch in &out.patches {
        let offset = patch.offset;
        let to = match patch.to {
            PatchTarget::Insn(target) => new_offset_of(target).ok_or(RelocError::Unsupported {
                offset,
                what: "branch into the middle of an instruction",
            })?,
            PatchTarget::Literal(index) => index
                .checked_mul(8)
                .and_then(|o| o.checked_add(pool))
                .ok_or(RelocError::OutOfRange { offset })?,
        };
        let disp = i64::try_from(to)
            .ok()
            .zip(i64::try_from(patch.from).ok())
            .and_then(|(to, from)| to.checked_sub(from))
            .and_then(|d| i32::try_from(d).ok())
            .ok_or(RelocError::OutOfRange { offset })?;
        let field = out
            .code
            .get_mut(patch.at..)
            .and_then(|rest| rest.first_chunk_mut::<4>())
            .ok_or(RelocError::OutOfRange { offset })?;
        *field = disp.to_le_bytes();
    }

    Ok(PreparedTemplate {
        code: out.code.into_boxed_slice(),
        closure_slot,
        fixups: out.fixups.into_boxed_slice(),
    })
}

#[cfg(test)]
mod tests {
    extern crate std;

    use std::string::String;
    use std::vec::Vec;
    use std::{format, vec};

    use super::*;

    /// Template entry used for x86_64 inputs (high, so absolute forms are visible).
    const ENTRY64: u64 = 0x7FF6_1234_5000;
    /// Template entry used for i686 inputs.
    const ENTRY32: u64 = 0x0804_9000;
    /// Address outputs are disassembled at: anywhere, since outputs are position-independent.
    const JIT: u64 = 0x1000_0000;
    /// Input bytes after the prologue: stub `mov`, `jmp`, magic.
    const STUB64_LEN: u64 = 28;
    const STUB32_LEN: u64 = 23;

    const PH64: [u8; 8] = PLACEHOLDER_64.to_le_bytes();
    const PH32: [u8; 4] = PLACEHOLDER_32.to_le_bytes();

    fn no_peek(_: u64) -> Option<[u8; 4]> {
        None
    }

    /// `movabs r64, PLACEHOLDER_64; jmp short over; MAGIC`.
    fn stub64(reg: u8) -> Vec<u8> {
        cat(&[
            &[0x48 | (reg >> 3), 0xB8 + (reg & 7)],
            &PH64,
            &[0xEB, 0x10],
            &MAGIC,
        ])
    }

    /// `mov r32, PLACEHOLDER_32; jmp short over; MAGIC`.
    fn stub32(reg: u8) -> Vec<u8> {
        cat(&[&[0xB8 + reg], &PH32, &[0xEB, 0x10], &MAGIC])
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// `head` followed by a little-endian 32-bit displacement or immediate.
    fn d32(head: &[u8], v: i32) -> Vec<u8> {
        cat(&[head, &v.to_le_bytes()])
    }

    /// `head` followed by a little-endian 32-bit immediate.
    fn l32(head: &[u8], v: u32) -> Vec<u8> {
        cat(&[head, &v.to_le_bytes()])
    }

    /// `head` followed by a little-endian 64-bit immediate or literal.
    fn q64(head: &[u8], v: u64) -> Vec<u8> {
        cat(&[head, &v.to_le_bytes()])
    }

    fn reloc64(prologue: &[u8]) -> Result<PreparedTemplate, RelocError> {
        relocate(Bits::B64, &cat(&[prologue, &stub64(0)]), ENTRY64, &no_peek)
    }

    fn reloc32(prologue: &[u8]) -> Result<PreparedTemplate, RelocError> {
        relocate(Bits::B32, &cat(&[prologue, &stub32(0)]), ENTRY32, &no_peek)
    }

    fn cont64(prologue: &[u8]) -> u64 {
        ENTRY64 + prologue.len() as u64 + STUB64_LEN
    }

    fn cont32(prologue: &[u8]) -> u64 {
        ENTRY32 + prologue.len() as u64 + STUB32_LEN
    }

    fn unsupported(r: Result<PreparedTemplate, RelocError>) -> (usize, &'static str) {
        match r {
            Err(RelocError::Unsupported { offset, what }) => (offset, what),
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    /// One decoded output instruction.
    #[derive(Debug)]
    struct Line {
        off: usize,
        len: usize,
        bytes: Vec<u8>,
        text: String,
        /// `(offset in instruction, size)` of the immediate.
        imm: Option<(usize, usize)>,
        /// Displacement of a RIP-relative memory operand.
        rip_disp: Option<i64>,
    }

    impl Line {
        fn end(&self) -> usize {
            self.off + self.len
        }
    }

    /// Disassembles `code` at [`JIT`] up to and including the jump back.
    fn disasm(bits: Bits, code: &[u8]) -> Vec<Line> {
        let mode = match bits {
            Bits::B64 => ArchMode::Mode64,
            Bits::B32 => ArchMode::Mode32,
        };
        let cs = Capstone::new()
            .x86()
            .mode(mode)
            .syntax(ArchSyntax::Intel)
            .detail(true)
            .build()
            .unwrap();
        let mut lines = Vec::new();
        let mut off = 0;
        loop {
            let insns = cs.disasm_count(&code[off..], JIT + off as u64, 1).unwrap();
            let Some(insn) = insns.iter().next() else {
                panic!("output does not decode at {off:#x}: {code:02x?}");
            };
            let detail = cs.insn_detail(insn).unwrap();
            let arch = detail.arch_detail();
            let x86 = arch.x86().unwrap();
            let rip_disp = x86.operands().find_map(|op| match op.op_type {
                X86OperandType::Mem(m) if u32::from(m.base().0) == X86Reg::X86_REG_RIP => {
                    Some(m.disp())
                }
                _ => None,
            });
            let text = format!("{} {}", insn.mnemonic().unwrap(), insn.op_str().unwrap());
            let line = Line {
                off,
                len: insn.len(),
                bytes: insn.bytes().to_vec(),
                text: text.trim().into(),
                imm: x86.encoding().imm.map(|s| (s.offset.into(), s.size.into())),
                rip_disp,
            };
            off = line.end();
            let last = match bits {
                Bits::B64 => line.bytes.starts_with(&[0xFF, 0x25]),
                Bits::B32 => off == code.len(),
            };
            lines.push(line);
            if last {
                return lines;
            }
        }
    }

    fn literal(code: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(code[at..at + 8].try_into().unwrap())
    }

    /// The self-check every successful output goes through: it decodes completely, the stub's
    /// immediate is at `closure_slot`, the jump back reaches `continuation`, internal branches
    /// land on instruction starts, and nothing else depends on the copy's address.
    fn check(bits: Bits, p: &PreparedTemplate, continuation: u64) -> Vec<Line> {
        let code = &p.code[..];
        let lines = disasm(bits, code);
        let back = lines.last().unwrap();
        let starts: Vec<usize> = lines.iter().map(|l| l.off).collect();

        let slot = lines
            .iter()
            .find(|l| l.off < p.closure_slot && p.closure_slot < l.end())
            .expect("closure_slot inside an instruction");
        let width = if bits == Bits::B64 { 8 } else { 4 };
        assert_eq!(
            slot.imm,
            Some((p.closure_slot - slot.off, width)),
            "{slot:?}"
        );
        assert!(slot.text.starts_with("mov"), "{slot:?}");
        assert_eq!(
            slot.end(),
            back.off,
            "the stub's mov is followed by the jump back"
        );

        let pool = match bits {
            Bits::B64 => {
                assert!(p.fixups.is_empty(), "x86_64 output has fixups");
                let pool = back.end().next_multiple_of(POOL_ALIGN);
                assert!(code[back.end()..pool].iter().all(|&b| b == POOL_PAD));
                assert_eq!((code.len() - pool) % 8, 0);
                let lit = back.end() as i64 + back.rip_disp.unwrap();
                assert_eq!(
                    literal(code, lit as usize),
                    continuation,
                    "jump back literal"
                );
                pool
            }
            Bits::B32 => {
                assert_eq!(back.end(), code.len());
                assert_eq!(back.bytes[0], 0xE9);
                let at = code.len() - 4;
                let jump_back = Fixup::Rel32 {
                    at,
                    target: continuation,
                };
                assert_eq!(p.fixups.last(), Some(&jump_back));
                code.len()
            }
        };

        for line in &lines {
            if p.fixups
                .iter()
                .any(|f| matches!(*f, Fixup::Rel32 { at, .. } if at == line.off + 1))
            {
                assert!(
                    matches!(line.bytes[0], 0xE8 | 0xE9) && line.len == 5,
                    "{line:?}"
                );
                assert_eq!(line.bytes[1..], [0; 4], "{line:?}");
                continue;
            }
            if let Some(b) = RelBranch::parse(&line.bytes) {
                assert_ne!(b.kind, BranchKind::Rel8Only, "{line:?}");
                assert_ne!(b.kind, BranchKind::Call, "{line:?}");
                let to = line.end() as i64 + b.disp;
                assert!(
                    usize::try_from(to).is_ok_and(|t| starts.contains(&t)),
                    "internal branch misses an instruction start: {line:?}"
                );
            }
            if let Some(disp) = line.rip_disp {
                assert_eq!(bits, Bits::B64);
                assert!(
                    line.bytes.starts_with(&[0xFF, 0x15]) || line.bytes.starts_with(&[0xFF, 0x25]),
                    "RIP-relative operand left in the output: {line:?}"
                );
                let lit = line.end() as i64 + disp;
                assert!(
                    lit as usize >= pool && (lit as usize) < code.len(),
                    "{line:?}"
                );
                assert_eq!(lit % 8, 0);
            }
        }
        for fixup in p.fixups.iter() {
            let Fixup::Rel32 { at, .. } = *fixup else {
                panic!("x86 emits only Rel32 fixups: {fixup:?}");
            };
            assert!(
                starts.contains(&(at - 1)),
                "fixup {at} is not a rel32 field"
            );
        }
        // Every scratch sequence is whole: lea rsp down, push S, movabs S, insn, pop S, lea
        // rsp back up.
        for (i, line) in lines.iter().enumerate() {
            if line.bytes != SKIP_RED_ZONE {
                continue;
            }
            let seq = lines.get(i..i + 6).expect("truncated scratch sequence");
            let s = match seq[1].bytes[..] {
                [push @ 0x50..=0x57] => push - 0x50,
                _ => panic!("no push after lea rsp: {seq:?}"),
            };
            assert!(seq[2].bytes.starts_with(&[0x48, 0xB8 + s]), "{seq:?}");
            assert_eq!(seq[2].len, 10, "{seq:?}");
            assert_eq!(seq[4].bytes, [0x58 + s], "{seq:?}");
            assert_eq!(seq[5].bytes, RESTORE_RED_ZONE, "{seq:?}");
        }
        lines
    }

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn stub_only_x86_64() {
        let p = reloc64(&[]).unwrap();
        let cont = cont64(&[]);
        let expected = cat(&[
            &q64(&[0x48, 0xB8], PLACEHOLDER_64), // 0: movabs rax, placeholder
            &d32(&[0xFF, 0x25], 0),              // 10: jmp [rip+0] (pool at 16)
            &cont.to_le_bytes(),                 // 16: continuation
        ]);
        assert_eq!(p.code[..], expected[..]);
        assert_eq!(p.closure_slot, 2);
        assert!(p.fixups.is_empty());
        let lines = check(Bits::B64, &p, cont);
        assert_eq!(
            texts(&lines),
            ["movabs rax, 0xc1f57ab00c1f5ab0", "jmp qword ptr [rip]"]
        );
    }

    #[test]
    fn stub_only_x86_64_every_register() {
        for reg in 0..16u8 {
            let p = relocate(Bits::B64, &stub64(reg), ENTRY64, &no_peek).unwrap();
            assert_eq!(p.code[..2], [0x48 | (reg >> 3), 0xB8 + (reg & 7)]);
            assert_eq!(p.code[2..10], PH64);
            check(Bits::B64, &p, ENTRY64 + STUB64_LEN);
        }
        let p = relocate(Bits::B64, &stub64(11), ENTRY64, &no_peek).unwrap();
        assert_eq!(p.code[..2], [0x49, 0xBB]); // REX.WB B8+3
        let lines = check(Bits::B64, &p, ENTRY64 + STUB64_LEN);
        assert_eq!(lines[0].text, "movabs r11, 0xc1f57ab00c1f5ab0");
    }

    #[test]
    fn stub_only_i686() {
        let input = stub32(1);
        let p = relocate(Bits::B32, &input, ENTRY32, &no_peek).unwrap();
        let cont = ENTRY32 + STUB32_LEN;
        let expected = cat(&[
            &l32(&[0xB9], PLACEHOLDER_32), // 0: mov ecx, placeholder
            &[0xE9, 0, 0, 0, 0],           // 5: jmp continuation (fixup)
        ]);
        assert_eq!(p.code[..], expected[..]);
        assert_eq!(p.closure_slot, 1);
        assert_eq!(
            p.fixups[..],
            [Fixup::Rel32 {
                at: 6,
                target: cont
            }]
        );
        let lines = check(Bits::B32, &p, cont);
        assert_eq!(texts(&lines), ["mov ecx, 0xc1f57ab0", "jmp 0x1000000a"]);
    }

    #[test]
    fn stub_with_near_jump_over_the_magic() {
        let mut input = stub64(3);
        input.splice(10..12, [0xE9, 0x10, 0, 0, 0]);
        let p = relocate(Bits::B64, &input, ENTRY64, &no_peek).unwrap();
        assert_eq!(p.code[..2], [0x48, 0xBB]);
        check(Bits::B64, &p, ENTRY64 + 31);

        let mut input = stub32(7);
        input.splice(5..7, [0xE9, 0x10, 0, 0, 0]);
        let p = relocate(Bits::B32, &input, ENTRY32, &no_peek).unwrap();
        assert_eq!(p.code[0], 0xBF);
        check(Bits::B32, &p, ENTRY32 + 26);
    }

    #[test]
    fn plain_prologue_is_copied_verbatim() {
        let prologue = cat(&[
            &[0x55],                         // push rbp
            &[0x48, 0x89, 0xE5],             // mov rbp, rsp
            &[0x48, 0x83, 0xEC, 0x40],       // sub rsp, 0x40
            &[0x48, 0x89, 0x7C, 0x24, 0x08], // mov [rsp+8], rdi
        ]);
        let p = reloc64(&prologue).unwrap();
        let cont = cont64(&prologue);
        let expected = cat(&[
            &prologue,                           // 0
            &q64(&[0x48, 0xB8], PLACEHOLDER_64), // 13: movabs rax, placeholder
            &d32(&[0xFF, 0x25], 3),              // 23: jmp [rip+3]
            &[0xCC; 3],                          // 29: padding
            &cont.to_le_bytes(),                 // 32: continuation
        ]);
        assert_eq!(p.code[..], expected[..]);
        assert_eq!(p.closure_slot, 15);
        let lines = check(Bits::B64, &p, cont);
        assert_eq!(
            texts(&lines),
            [
                "push rbp",
                "mov rbp, rsp",
                "sub rsp, 0x40",
                "mov qword ptr [rsp + 8], rdi",
                "movabs rax, 0xc1f57ab00c1f5ab0",
                "jmp qword ptr [rip + 3]",
            ]
        );

        // Instructions without a ModRM byte, or with an absolute (SIB, no base) operand, are
        // not RIP-relative.
        let prologue = cat(&[
            &[0xB8, 0x05, 0, 0, 0],                // mov eax, 5
            &[0x6A, 0x05],                         // push 5
            &[0x04, 0x05],                         // add al, 5
            &[0x8B, 0x04, 0x25, 0x05, 0, 0, 0],    // mov eax, [5]
            &[0x48, 0xA1, 5, 0, 0, 0, 0, 0, 0, 0], // movabs rax, [5]
            &[0x0F, 0x1F, 0x44, 0x00, 0x00],       // nop dword [rax+rax]
        ]);
        let p = reloc64(&prologue).unwrap();
        assert_eq!(p.code[..prologue.len()], prologue[..]);
        check(Bits::B64, &p, cont64(&prologue));

        // i686: push ebp; mov ebp, esp; sub esp, 0x18; mov eax, [0x5] (absolute).
        let prologue = [0x55, 0x89, 0xE5, 0x83, 0xEC, 0x18, 0x8B, 0x05, 5, 0, 0, 0];
        let p = reloc32(&prologue).unwrap();
        assert_eq!(p.code[..12], prologue);
        assert_eq!(p.closure_slot, 13);
        check(Bits::B32, &p, cont32(&prologue));
    }

    #[test]
    fn rip_relative_lea_and_loads_become_absolute() {
        let prologue = cat(&[
            &d32(&[0x48, 0x8D, 0x05], 0x1000), // 0: lea rax, [rip+0x1000]
            &d32(&[0x48, 0x8B, 0x0D], 0x2000), // 7: mov rcx, [rip+0x2000]
            &d32(&[0x8B, 0x0D], -0x10),        // 14: mov ecx, [rip-0x10]
        ]);
        let p = reloc64(&prologue).unwrap();
        let lea = ENTRY64 + 7 + 0x1000;
        let rcx = ENTRY64 + 14 + 0x2000;
        let ecx = ENTRY64 + 20 - 0x10;
        let expected = cat(&[
            &q64(&[0x48, 0xB8], lea), // movabs rax, lea
            &q64(&[0x48, 0xB9], rcx), // movabs rcx, rcx
            &[0x48, 0x8B, 0x09],      // mov rcx, [rcx]
            &q64(&[0x48, 0xB9], ecx), // movabs rcx, ecx
            &[0x8B, 0x09],            // mov ecx, [rcx]
        ]);
        assert_eq!(p.code[..expected.len()], expected[..]);
        let lines = check(Bits::B64, &p, cont64(&prologue));
        assert_eq!(
            texts(&lines)[..5],
            [
                &format!("movabs rax, {lea:#x}"),
                &format!("movabs rcx, {rcx:#x}"),
                "mov rcx, qword ptr [rcx]",
                &format!("movabs rcx, {ecx:#x}"),
                "mov ecx, dword ptr [rcx]",
            ]
        );
    }

    #[test]
    fn rip_relative_loads_into_every_register() {
        // (input opcode and ModRM, the load emitted after `movabs`, its disassembly)
        let table: &[(&[u8], &[u8], &str)] = &[
            (
                &[0x48, 0x8B, 0x2D],
                &[0x48, 0x8B, 0x6D, 0x00],
                "mov rbp, qword ptr [rbp]",
            ),
            (
                &[0x4C, 0x8B, 0x05],
                &[0x4D, 0x8B, 0x00],
                "mov r8, qword ptr [r8]",
            ),
            (
                &[0x4C, 0x8B, 0x25],
                &[0x4D, 0x8B, 0x24, 0x24],
                "mov r12, qword ptr [r12]",
            ),
            (
                &[0x4C, 0x8B, 0x2D],
                &[0x4D, 0x8B, 0x6D, 0x00],
                "mov r13, qword ptr [r13]",
            ),
            (
                &[0x4C, 0x8B, 0x3D],
                &[0x4D, 0x8B, 0x3F],
                "mov r15, qword ptr [r15]",
            ),
            (&[0x8B, 0x35], &[0x8B, 0x36], "mov esi, dword ptr [rsi]"),
            (
                &[0x8B, 0x2D],
                &[0x8B, 0x6D, 0x00],
                "mov ebp, dword ptr [rbp]",
            ),
            (
                &[0x44, 0x8B, 0x25],
                &[0x45, 0x8B, 0x24, 0x24],
                "mov r12d, dword ptr [r12]",
            ),
            (
                &[0x44, 0x8B, 0x0D],
                &[0x45, 0x8B, 0x09],
                "mov r9d, dword ptr [r9]",
            ),
        ];
        for &(head, load, text) in table {
            let prologue = d32(head, 0x40);
            let p = reloc64(&prologue).unwrap();
            let target = ENTRY64 + prologue.len() as u64 + 0x40;
            assert_eq!(p.code[2..10], target.to_le_bytes(), "{text}");
            assert_eq!(p.code[10..10 + load.len()], *load, "{text}");
            let lines = check(Bits::B64, &p, cont64(&prologue));
            assert_eq!(lines[1].text, text);
        }
        // lea into the stack pointer is one instruction; a load would need two.
        let p = reloc64(&d32(&[0x48, 0x8D, 0x25], 0)).unwrap();
        assert_eq!(p.code[..2], [0x48, 0xBC]);
        for head in [&[0x48, 0x8B, 0x25][..], &[0x8B, 0x25]] {
            let (_, what) = unsupported(reloc64(&d32(head, 0)));
            assert_eq!(what, "RIP-relative load into the stack pointer");
        }
    }

    /// Names of GPRs 0-7, to read disassembly.
    const GPR64: [&str; 8] = ["rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi"];

    /// One instruction of the through-a-scratch-register table.
    struct ScratchCase {
        /// Input up to and including the ModRM byte (`mod = 00, r/m = 101`).
        head: &'static [u8],
        /// Input after the displacement (an immediate).
        tail: &'static [u8],
        /// The scratch register expected.
        scratch: u8,
        /// The instruction expected between `movabs` and `pop`.
        rebased: &'static [u8],
        /// Its disassembly.
        text: &'static str,
    }

    const fn case(
        head: &'static [u8],
        tail: &'static [u8],
        scratch: u8,
        rebased: &'static [u8],
        text: &'static str,
    ) -> ScratchCase {
        ScratchCase {
            head,
            tail,
            scratch,
            rebased,
            text,
        }
    }

    const RSI: u8 = 6;
    const RDI: u8 = 7;
    const RBX: u8 = 3;

    #[rustfmt::skip]
    const SCRATCH_CASES: &[ScratchCase] = &[
        // Constant-pool reads hoisted above the stub by LLVM.
        case(&[0x0F, 0x2E, 0x15], &[], RSI, &[0x0F, 0x2E, 0x16],
             "ucomiss xmm2, dword ptr [rsi]"),
        case(&[0xF2, 0x0F, 0x10, 0x05], &[], RSI, &[0xF2, 0x0F, 0x10, 0x06],
             "movsd xmm0, qword ptr [rsi]"),
        case(&[0x66, 0x0F, 0x2E, 0x05], &[], RSI, &[0x66, 0x0F, 0x2E, 0x06],
             "ucomisd xmm0, qword ptr [rsi]"),
        // An immediate after the displacement stays (and the target is relative to its end).
        case(&[0x83, 0x3D], &[0x05], RSI, &[0x83, 0x3E, 0x05],
             "cmp dword ptr [rsi], 5"),
        case(&[0xC7, 0x05], &[0x78, 0x56, 0x34, 0x12], RSI, &[0xC7, 0x06, 0x78, 0x56, 0x34, 0x12],
             "mov dword ptr [rsi], 0x12345678"),
        // Explicit register operands are never the scratch register.
        case(&[0x48, 0x03, 0x05], &[], RSI, &[0x48, 0x03, 0x06],
             "add rax, qword ptr [rsi]"),
        case(&[0x48, 0x03, 0x35], &[], RDI, &[0x48, 0x03, 0x37],
             "add rsi, qword ptr [rdi]"),
        case(&[0x48, 0x3B, 0x05], &[], RSI, &[0x48, 0x3B, 0x06],
             "cmp rax, qword ptr [rsi]"),
        // Stores.
        case(&[0x48, 0x89, 0x3D], &[], RSI, &[0x48, 0x89, 0x3E],
             "mov qword ptr [rsi], rdi"),
        case(&[0x48, 0x89, 0x35], &[], RDI, &[0x48, 0x89, 0x37],
             "mov qword ptr [rdi], rsi"),
        // A sub-register is its GPR; the bare REX (sil, not dh) stays.
        case(&[0x40, 0x88, 0x35], &[], RDI, &[0x40, 0x88, 0x37],
             "mov byte ptr [rdi], sil"),
        case(&[0x48, 0xFF, 0x05], &[], RSI, &[0x48, 0xFF, 0x06],
             "inc qword ptr [rsi]"),
        case(&[0xF0, 0x48, 0x0F, 0xC1, 0x35], &[], RDI, &[0xF0, 0x48, 0x0F, 0xC1, 0x37],
             "lock xadd qword ptr [rdi], rsi"),
        // Forms the cheap rewrites do not cover.
        case(&[0x8D, 0x05], &[], RSI, &[0x8D, 0x06],
             "lea eax, [rsi]"),
        case(&[0x66, 0x8B, 0x05], &[], RSI, &[0x66, 0x8B, 0x06],
             "mov ax, word ptr [rsi]"),
        case(&[0x64, 0x48, 0x8B, 0x05], &[], RSI, &[0x64, 0x48, 0x8B, 0x06],
             "mov rax, qword ptr fs:[rsi]"),
        case(&[0x0F, 0x18, 0x0D], &[], RSI, &[0x0F, 0x18, 0x0E],
             "prefetcht0 byte ptr [rsi]"),
        // REX.B is ignored with [rip+disp32] but would select r14 with [rsi]: cleared.
        case(&[0x41, 0x0F, 0x2E, 0x05], &[], RSI, &[0x40, 0x0F, 0x2E, 0x06],
             "ucomiss xmm0, dword ptr [rsi]"),
        case(&[0x45, 0x0F, 0x2E, 0x05], &[], RSI, &[0x44, 0x0F, 0x2E, 0x06],
             "ucomiss xmm8, dword ptr [rsi]"),
        // 0F 38 and 0F 3A maps (the latter with an immediate).
        case(&[0x66, 0x0F, 0x38, 0x00, 0x05], &[], RSI, &[0x66, 0x0F, 0x38, 0x00, 0x06],
             "pshufb xmm0, xmmword ptr [rsi]"),
        case(&[0x66, 0x0F, 0x3A, 0x61, 0x05], &[0x05], RSI, &[0x66, 0x0F, 0x3A, 0x61, 0x06, 0x05],
             "pcmpestri xmm0, xmmword ptr [rsi], 5"),
        // VEX: C5 has no B bit; C4 gets its inverted B bit set.
        case(&[0xC5, 0xFA, 0x10, 0x0D], &[], RSI, &[0xC5, 0xFA, 0x10, 0x0E],
             "vmovss xmm1, dword ptr [rsi]"),
        case(&[0xC4, 0xE2, 0x7D, 0x18, 0x05], &[], RSI, &[0xC4, 0xE2, 0x7D, 0x18, 0x06],
             "vbroadcastss ymm0, dword ptr [rsi]"),
        case(&[0xC4, 0xC2, 0x7D, 0x18, 0x05], &[], RSI, &[0xC4, 0xE2, 0x7D, 0x18, 0x06],
             "vbroadcastss ymm0, dword ptr [rsi]"),
        // mulx rsi, rdi, [m] (implicit rdx): the third choice.
        case(&[0xC4, 0xE2, 0xC3, 0xF6, 0x35], &[], RBX, &[0xC4, 0xE2, 0xC3, 0xF6, 0x33],
             "mulx rsi, rdi, qword ptr [rbx]"),
        // Implicit rax, rbx, rcx, rdx.
        case(&[0x48, 0x0F, 0xC7, 0x0D], &[], RSI, &[0x48, 0x0F, 0xC7, 0x0E],
             "cmpxchg16b xmmword ptr [rsi]"),
    ];

    #[test]
    fn rip_relative_operands_go_through_a_scratch_register() {
        for case in SCRATCH_CASES {
            let insn = cat(&[case.head, &0x100i32.to_le_bytes(), case.tail]);
            let prologue = cat(&[&[0x55], &insn]); // push rbp; insn
            let p = reloc64(&prologue).unwrap_or_else(|e| panic!("{}: {e:?}", case.text));
            // Relative to the end of the original instruction, immediate included.
            let target = ENTRY64 + prologue.len() as u64 + 0x100;
            let s = case.scratch;
            let expected = cat(&[
                &[0x55],                                  // push rbp
                &[0x48, 0x8D, 0x64, 0x24, 0x80],          // lea rsp, [rsp - 0x80]
                &[0x50 + s],                              // push S
                &q64(&[0x48, 0xB8 + s], target),          // movabs S, target
                case.rebased,                             // insn with [S]
                &[0x58 + s],                              // pop S
                &[0x48, 0x8D, 0xA4, 0x24, 0x80, 0, 0, 0], // lea rsp, [rsp + 0x80]
            ]);
            assert_eq!(p.code[..expected.len()], expected[..], "{}", case.text);
            assert_eq!(expected.len(), prologue.len() + 21, "{}", case.text);
            assert_eq!(p.closure_slot, expected.len() + 2, "{}", case.text);
            let lines = check(Bits::B64, &p, cont64(&prologue));
            let name = GPR64[usize::from(s)];
            let want = [
                String::from("lea rsp, [rsp - 0x80]"),
                format!("push {name}"),
                format!("movabs {name}, {target:#x}"),
                case.text.into(),
                format!("pop {name}"),
                "lea rsp, [rsp + 0x80]".into(),
            ];
            assert_eq!(texts(&lines)[1..7], want, "{}", case.text);
        }
    }

    #[test]
    fn rip_relative_target_can_be_anywhere() {
        // A negative displacement, and the result far from the copy (JIT).
        let prologue = d32(&[0xF2, 0x0F, 0x10, 0x05], -0x7000_0000);
        let p = reloc64(&prologue).unwrap();
        let target = ENTRY64 + 8 - 0x7000_0000;
        assert_eq!(p.code[6..16], q64(&[0x48, 0xBE], target)[..]);
        check(Bits::B64, &p, cont64(&prologue));
        // A displacement past the end of the address space.
        let input = cat(&[&d32(&[0x0F, 0x2E, 0x05], i32::MAX), &stub64(0)]);
        let out = relocate(Bits::B64, &input, u64::MAX - 0x100, &no_peek);
        assert_eq!(out, Err(RelocError::OutOfRange { offset: 0 }));
    }

    #[test]
    fn unrelocatable_rip_relative_operands_are_unsupported() {
        let stack = "RIP-relative operand of an instruction that uses the stack pointer";
        let cases: &[(&[u8], &[u8], &str)] = &[
            (&[0xFF, 0x35], &[], stack),       // push qword ptr [rip+x]
            (&[0x8F, 0x05], &[], stack),       // pop qword ptr [rip+x]
            (&[0x48, 0x89, 0x25], &[], stack), // mov [rip+x], rsp
            (&[0x48, 0x03, 0x25], &[], stack), // add rsp, [rip+x]
            (&[0x40, 0x88, 0x25], &[], stack), // mov [rip+x], spl
            (
                &[0x48, 0x8B, 0x25],
                &[],
                "RIP-relative load into the stack pointer",
            ),
            (&[0xFF, 0x15], &[], "indirect branch"), // call [rip+x]
            (&[0xFF, 0x25], &[], "indirect branch"), // jmp [rip+x]
            (
                &[0x67, 0x48, 0x8D, 0x05], // lea rax, [eip+x]
                &[],
                "RIP-relative operand with an address-size prefix",
            ),
            (
                &[0x67, 0x8B, 0x05], // mov eax, [eip+x]
                &[],
                "RIP-relative operand with an address-size prefix",
            ),
            (
                &[0x62, 0xF1, 0x7C, 0x48, 0x10, 0x05], // vmovups zmm0, [rip+x]
                &[],
                "EVEX-encoded RIP-relative operand",
            ),
            (
                &[0x8F, 0xE9, 0x78, 0x80, 0x05], // vfrczps xmm0, [rip+x]
                &[],
                "XOP-encoded RIP-relative operand",
            ),
            (
                &[0x0F, 0x0F, 0x05], // pfadd mm0, [rip+x] (3DNow!: opcode 9E at the end)
                &[0x9E],
                "3DNow! RIP-relative operand",
            ),
        ];
        for &(head, tail, what) in cases {
            let prologue = cat(&[&[0x55], &d32(head, 0x100), tail]);
            assert_eq!(unsupported(reloc64(&prologue)), (1, what), "{head:02x?}");
        }
    }

    #[test]
    fn rip_layout_parse_refuses_odd_encodings() {
        let parse = RipLayout::parse;
        let unrecognised = Err("RIP-relative operand in an unrecognised encoding");
        // A REX prefix not right before the opcode is ignored by the CPU: refused.
        assert_eq!(parse(&[0x48, 0x66, 0x8B, 0x05]), unrecognised);
        assert_eq!(parse(&[0x48, 0x48, 0x8B, 0x05]), unrecognised);
        // REX before VEX is #UD.
        assert_eq!(parse(&[0x48, 0xC5, 0xFA, 0x10, 0x05]), unrecognised);
        assert_eq!(parse(&[0x66, 0x66]), unrecognised);
        assert_eq!(parse(&[]), unrecognised);
        assert_eq!(
            parse(&[0x0F, 0x0F, 0x05]),
            Err("3DNow! RIP-relative operand")
        );
        let layout = parse(&[0x66, 0x41, 0x0F, 0x3A, 0x0F, 0x05]).unwrap();
        assert_eq!(
            layout,
            RipLayout {
                rex: Some(1),
                vex3: None,
                modrm: 5
            }
        );
        // rebase checks what parse could not: the ModRM and the displacement's presence.
        let short = [0x0F, 0x2E, 0x05, 0, 0, 0];
        assert_eq!(parse(&short).unwrap().rebase(&short, 6), None);
        let not_rip = [0x0F, 0x2E, 0x45, 0, 0, 0, 0];
        assert_eq!(parse(&not_rip).unwrap().rebase(&not_rip, 6), None);
        let ok = [0x0F, 0x2E, 0x05, 0, 0, 0, 0];
        for bad_scratch in [4, 5, 8] {
            assert_eq!(parse(&ok).unwrap().rebase(&ok, bad_scratch), None);
        }
    }

    #[test]
    fn scratch_is_the_first_unused_candidate() {
        assert_eq!(pick_scratch(0), Some(RSI));
        assert_eq!(pick_scratch(1 << RSI), Some(RDI));
        assert_eq!(pick_scratch(0b1100_0000), Some(RBX));
        assert_eq!(pick_scratch(0b1100_1000), Some(1)); // rcx
        assert_eq!(pick_scratch(0b1100_1010), Some(2)); // rdx
        assert_eq!(pick_scratch(0b1100_1110), Some(0)); // rax
                                                        // An instruction using all six candidates leaves none (rsp and rbp never are).
        assert_eq!(pick_scratch(0b1100_1111), None);
        assert_eq!(pick_scratch(0xFF), None);

        // What counts as used, from real decodings: (instruction, GPRs 0-7 used, rsp used).
        let cs = Capstone::new()
            .x86()
            .mode(ArchMode::Mode64)
            .detail(true)
            .build()
            .unwrap();
        let table: &[(&[u8], u8, bool)] = &[
            // cmpxchg16b [rip+x]: rax, rcx, rdx, rbx implicitly.
            (&[0x48, 0x0F, 0xC7, 0x0D, 0, 0, 0, 0], 0b0000_1111, false),
            // mul dword ptr [rip+x]: eax, edx implicitly.
            (&[0xF7, 0x25, 0, 0, 0, 0], 0b0000_0101, false),
            // shl qword ptr [rip+x], cl
            (&[0x48, 0xD3, 0x25, 0, 0, 0, 0], 0b0000_0010, false),
            // mulx rsi, rdi, [rip+x]: rdx implicitly.
            (
                &[0xC4, 0xE2, 0xC3, 0xF6, 0x35, 0, 0, 0, 0],
                0b1100_0100,
                false,
            ),
            // mov byte ptr [rip+x], dh / sil / bpl
            (&[0x88, 0x35, 0, 0, 0, 0], 0b0000_0100, false),
            (&[0x40, 0x88, 0x35, 0, 0, 0, 0], 0b0100_0000, false),
            (&[0x40, 0x88, 0x2D, 0, 0, 0, 0], 0b0010_0000, false),
            // push qword ptr [rip+x]: rsp implicitly.
            (&[0xFF, 0x35, 0, 0, 0, 0], 0b0001_0000, true),
            // movsq: rsi, rdi implicitly (as memory bases).
            (&[0x48, 0xA5], 0b1100_0000, false),
            // r8-r15 are not candidates and not counted.
            (&[0x4C, 0x03, 0x05, 0, 0, 0, 0], 0, false),
        ];
        for &(bytes, low, stack_pointer) in table {
            let insns = cs.disasm_count(bytes, JIT, 1).unwrap();
            let insn = insns.iter().next().unwrap();
            let detail = cs.insn_detail(insn).unwrap();
            let arch = detail.arch_detail();
            let used = UsedGprs::of(&detail, arch.x86().unwrap().operands());
            let want = UsedGprs { low, stack_pointer };
            assert_eq!(used, want, "{bytes:02x?}");
        }
    }

    /// Executes relocated RIP-relative instructions from a buffer far from their data.
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    mod execution {
        use core::ffi::c_void;
        use core::sync::atomic::{AtomicU64, Ordering};

        use super::*;

        extern "C" {
            fn mmap(
                addr: *mut c_void,
                len: usize,
                prot: i32,
                flags: i32,
                fd: i32,
                offset: i64,
            ) -> *mut c_void;
            fn munmap(addr: *mut c_void, len: usize) -> i32;
        }

        /// PROT_READ | PROT_WRITE | PROT_EXEC.
        const PROT_RWX: i32 = 0x1 | 0x2 | 0x4;
        /// MAP_PRIVATE | MAP_ANONYMOUS (Linux values).
        const MAP_PRIVATE_ANONYMOUS: i32 = 0x02 | 0x20;
        const MAP_LEN: usize = 4096;

        /// Returned in rax and xmm0 by the SysV ABI (INTEGER, SSE).
        #[repr(C)]
        struct Pair {
            int: u64,
            float: f64,
        }

        static INT: u64 = 0x1234_5678_0000_0009;
        static FLOAT: f64 = 2.5;
        static OUT: AtomicU64 = AtomicU64::new(0);

        #[test]
        fn relocated_rip_relative_operands_run() {
            let int = core::ptr::addr_of!(INT) as u64;
            let float = core::ptr::addr_of!(FLOAT) as u64;
            let out = OUT.as_ptr() as u64;
            // Where the template would be: near its data, not where the copy runs.
            let entry = int - 0x4000;
            let mut prologue = Vec::new();
            // Appends `head disp32 tail` addressing `target` from the end of the instruction.
            let rip = |prologue: &mut Vec<u8>, head: &[u8], target: u64, tail: &[u8]| {
                let end = entry + (prologue.len() + head.len() + 4 + tail.len()) as u64;
                let disp = i32::try_from(target.wrapping_sub(end) as i64).unwrap();
                prologue.extend_from_slice(&cat(&[head, &disp.to_le_bytes(), tail]));
            };
            // extern "C" fn(rdi: u64) -> Pair
            prologue.extend_from_slice(&[0x48, 0x89, 0x7C, 0x24, 0xF8]); // mov [rsp-8], rdi (red zone)
            prologue.extend_from_slice(&[0x31, 0xC0]); // xor eax, eax
            rip(&mut prologue, &[0x48, 0x03, 0x05], int, &[]); // add rax, [rip+INT]
            rip(&mut prologue, &[0x48, 0x89, 0x3D], out, &[]); // mov [rip+OUT], rdi
            rip(&mut prologue, &[0x83, 0x3D], int, &[0x05]); // cmp dword ptr [rip+INT], 5
            prologue.extend_from_slice(&[0x0F, 0x97, 0xC1]); // seta cl (flags survive)
            prologue.extend_from_slice(&[0x0F, 0xB6, 0xC9]); // movzx ecx, cl
            prologue.extend_from_slice(&[0x48, 0x01, 0xC8]); // add rax, rcx
            prologue.extend_from_slice(&[0x48, 0x03, 0x44, 0x24, 0xF8]); // add rax, [rsp-8]
            rip(&mut prologue, &[0xF2, 0x0F, 0x10, 0x05], float, &[]); // movsd xmm0, [rip+FLOAT]
            rip(&mut prologue, &[0x66, 0x0F, 0x2E, 0x05], float, &[]); // ucomisd xmm0, [rip+FLOAT]
            prologue.extend_from_slice(&[0x0F, 0x94, 0xC2]); // sete dl
            prologue.extend_from_slice(&[0x48, 0x0F, 0xB6, 0xD2]); // movzx rdx, dl
            prologue.extend_from_slice(&[0x48, 0xC1, 0xE2, 0x20]); // shl rdx, 32
            prologue.extend_from_slice(&[0x48, 0x01, 0xD0]); // add rax, rdx
                                                             // The stub loads r11, so rax survives; the continuation will be a `ret`.
            let input = cat(&[&prologue, &stub64(11)]);
            let p = relocate(Bits::B64, &input, entry, &no_peek).unwrap();
            let cont = entry + input.len() as u64;
            let lines = check(Bits::B64, &p, cont);
            let skips = lines
                .iter()
                .filter(|l| l.text == "lea rsp, [rsp - 0x80]")
                .count();
            assert_eq!(skips, 5);
            // The only literal is the continuation: point it at a `ret` after the code.
            let code = &p.code[..];
            let lit = code.len() - 8;
            assert_eq!(literal(code, lit), cont);

            // SAFETY: an anonymous private mapping at an address of the kernel's choosing;
            // no existing memory is affected.
            let map = unsafe {
                mmap(
                    core::ptr::null_mut(),
                    MAP_LEN,
                    PROT_RWX,
                    MAP_PRIVATE_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(map as isize, -1, "mmap failed");
            let buf = map.cast::<u8>();
            assert!(code.len() < MAP_LEN);
            // SAFETY: `buf` is MAP_LEN writable bytes, `code.len() + 1 <= MAP_LEN`, and the
            // mapping does not overlap `code`.
            unsafe {
                core::ptr::copy_nonoverlapping(code.as_ptr(), buf, code.len());
                buf.add(code.len()).write(0xC3); // ret
                let ret = buf as u64 + code.len() as u64;
                buf.add(lit).cast::<u64>().write_unaligned(ret);
            }
            // SAFETY: `buf` holds the relocated prologue, the stub (clobbers r11) and a jump
            // to `ret`: a complete `extern "C" fn(u64) -> Pair` that reads INT and FLOAT,
            // writes OUT (an atomic), and preserves every callee-saved register and rsp.
            let run: extern "C" fn(u64) -> Pair = unsafe { core::mem::transmute(buf) };
            for arg in [7u64, 0xDEAD_BEEF] {
                let got = run(arg);
                // INT + (9 > 5) + arg (through the red zone) + (2.5 == 2.5) << 32
                let want = INT + 1 + arg + (1 << 32);
                assert_eq!(got.int, want, "{arg:#x}");
                assert_eq!(got.float, FLOAT);
                assert_eq!(OUT.load(Ordering::Relaxed), arg);
            }
            // SAFETY: `map` came from mmap with MAP_LEN and is no longer used.
            assert_eq!(unsafe { munmap(map, MAP_LEN) }, 0);
        }
    }

    #[test]
    fn forward_jcc_over_a_growing_instruction() {
        let prologue = cat(&[
            &[0x84, 0xC0],                    // 0: test al, al
            &[0x74, 0x07],                    // 2: je 11
            &d32(&[0x48, 0x8D, 0x05], 0x300), // 4: lea rax, [rip+0x300] (7 -> 10 bytes)
            &[0x48, 0x89, 0xC7],              // 11: mov rdi, rax
        ]);
        let p = reloc64(&prologue).unwrap();
        let expected = cat(&[
            &[0x84, 0xC0],                             // 0: test al, al
            &d32(&[0x0F, 0x84], 10),                   // 2: je 18 (8 + 10)
            &q64(&[0x48, 0xB8], ENTRY64 + 11 + 0x300), // 8: movabs rax, target
            &[0x48, 0x89, 0xC7],                       // 18: mov rdi, rax
        ]);
        assert_eq!(p.code[..expected.len()], expected[..]);
        let lines = check(Bits::B64, &p, cont64(&prologue));
        assert_eq!(lines[1].text, format!("je {:#x}", JIT + 18));
        let target = lines.iter().find(|l| l.off == 18).unwrap();
        assert_eq!(target.text, "mov rdi, rax");
    }

    #[test]
    fn jcc_straight_to_the_stub() {
        // The variadic spill skip: the je targets the stub's mov itself.
        let prologue = cat(&[
            &[0x84, 0xC0],                   // 0: test al, al
            &[0x74, 0x05],                   // 2: je 9 (the stub)
            &[0x0F, 0x29, 0x44, 0x24, 0x30], // 4: movaps [rsp+0x30], xmm0
        ]);
        let p = reloc64(&prologue).unwrap();
        assert_eq!(p.code[2..8], d32(&[0x0F, 0x84], 5)[..]);
        let lines = check(Bits::B64, &p, cont64(&prologue));
        assert_eq!(lines[1].text, format!("je {:#x}", JIT + 13));
        assert_eq!(p.closure_slot, 15);
    }

    #[test]
    fn backward_jcc_probe_loop() {
        let prologue = cat(&[
            &[0x49, 0x89, 0xE3],                   // 0: mov r11, rsp
            &d32(&[0x49, 0x81, 0xEB], 0x10000),    // 3: sub r11, 0x10000
            &d32(&[0x48, 0x81, 0xEC], 0x1000),     // 10: sub rsp, 0x1000
            &[0x48, 0xC7, 0x04, 0x24, 0, 0, 0, 0], // 17: mov qword ptr [rsp], 0
            &[0x4C, 0x39, 0xDC],                   // 25: cmp rsp, r11
            &[0x75, 0xEC],                         // 28: jne 10
        ]);
        let p = reloc64(&prologue).unwrap();
        let expected = cat(&[&prologue[..28], &d32(&[0x0F, 0x85], -24)]); // jne 10 (34 - 24)
        assert_eq!(p.code[..34], expected[..]);
        let lines = check(Bits::B64, &p, cont64(&prologue));
        assert_eq!(lines[5].text, format!("jne {:#x}", JIT + 10));
        assert_eq!(lines[2].text, "sub rsp, 0x1000");

        // Plain jmp, forward (to the next instruction) and backward.
        let prologue = [0x90, 0xEB, 0x00, 0x90, 0xEB, 0xFA];
        let p = reloc64(&prologue).unwrap();
        let expected = cat(&[
            &[0x90],            // 0: nop
            &d32(&[0xE9], 0),   // 1: jmp 6
            &[0x90],            // 6: nop
            &d32(&[0xE9], -12), // 7: jmp 0
        ]);
        assert_eq!(p.code[..12], expected[..]);
        check(Bits::B64, &p, cont64(&prologue));

        // i686: je over an outside call (same size) to a nop.
        let prologue = cat(&[&[0x85, 0xC0, 0x74, 0x05], &d32(&[0xE8], 0x100), &[0x90]]);
        let p = reloc32(&prologue).unwrap();
        let expected = cat(&[
            &[0x85, 0xC0],          // 0: test eax, eax
            &d32(&[0x0F, 0x84], 5), // 2: je 13
            &d32(&[0xE8], 0),       // 8: call (fixup)
            &[0x90],                // 13: nop
        ]);
        assert_eq!(p.code[..14], expected[..]);
        let call = Fixup::Rel32 {
            at: 9,
            target: ENTRY32 + 9 + 0x100,
        };
        assert_eq!(p.fixups[0], call);
        check(Bits::B32, &p, cont32(&prologue));
    }

    #[test]
    fn x86_64_call_out_goes_through_a_literal() {
        let prologue = cat(&[
            &d32(&[0xB8], 0x1234),       // 0: mov eax, 0x1234
            &d32(&[0xE8], 0x1_0000),     // 5: call __chkstk (10 + 0x10000)
            &[0x48, 0x29, 0xC4],         // 10: sub rsp, rax
            &d32(&[0xE8], 0x1_0000 - 8), // 13: call __chkstk again: same literal
        ]);
        let p = reloc64(&prologue).unwrap();
        let chkstk = ENTRY64 + 10 + 0x1_0000;
        let cont = cont64(&prologue);
        let expected = cat(&[
            &d32(&[0xB8], 0x1234),               // 0: mov eax, 0x1234
            &d32(&[0xFF, 0x15], 40 - 11),        // 5: call [rip+lit0]
            &[0x48, 0x29, 0xC4],                 // 11: sub rsp, rax
            &d32(&[0xFF, 0x15], 40 - 20),        // 14: call [rip+lit0]
            &q64(&[0x48, 0xB8], PLACEHOLDER_64), // 20: movabs rax, placeholder
            &d32(&[0xFF, 0x25], 48 - 36),        // 30: jmp [rip+lit1]
            &[0xCC; 4],                          // 36: padding
            &chkstk.to_le_bytes(),               // 40: lit0
            &cont.to_le_bytes(),                 // 48: lit1
        ]);
        assert_eq!(p.code[..], expected[..]);
        assert!(p.fixups.is_empty());
        let lines = check(Bits::B64, &p, cont);
        assert_eq!(lines[1].text, "call qword ptr [rip + 0x1d]");
    }

    #[test]
    fn i686_call_out_gets_a_fixup() {
        let prologue = cat(&[&[0x55], &d32(&[0xE8], -0x2000)]);
        let p = reloc32(&prologue).unwrap();
        let target = ENTRY32 + 6 - 0x2000;
        let cont = cont32(&prologue);
        let expected = cat(&[
            &[0x55],                       // 0: push ebp
            &d32(&[0xE8], 0),              // 1: call (fixup at 2)
            &l32(&[0xB8], PLACEHOLDER_32), // 6: mov eax, placeholder
            &d32(&[0xE9], 0),              // 11: jmp continuation (fixup at 12)
        ]);
        assert_eq!(p.code[..], expected[..]);
        let fixups = [
            Fixup::Rel32 { at: 2, target },
            Fixup::Rel32 {
                at: 12,
                target: cont,
            },
        ];
        assert_eq!(p.fixups[..], fixups);
        check(Bits::B32, &p, cont);
    }

    #[test]
    fn i686_call_pop_becomes_mov_imm() {
        let prologue = cat(&[
            &[0x53],                       // 0: push ebx
            &[0xE8, 0, 0, 0, 0],           // 1: call 6
            &[0x5B],                       // 6: pop ebx
            &d32(&[0x81, 0xC3], 0x1_2345), // 7: add ebx, _GLOBAL_OFFSET_TABLE_ - 6
        ]);
        let p = reloc32(&prologue).unwrap();
        let pc = u32::try_from(ENTRY32 + 6).unwrap();
        let expected = cat(&[
            &[0x53],                       // 0: push ebx
            &l32(&[0xBB], pc),             // 1: mov ebx, entry + 6
            &d32(&[0x81, 0xC3], 0x1_2345), // 6: add ebx, ...
            &l32(&[0xB8], PLACEHOLDER_32), // 12: mov eax, placeholder
            &d32(&[0xE9], 0),              // 17: jmp continuation (fixup)
        ]);
        assert_eq!(p.code[..], expected[..]);
        assert_eq!(p.fixups.len(), 1);
        let lines = check(Bits::B32, &p, cont32(&prologue));
        assert_eq!(lines[1].text, format!("mov ebx, {pc:#x}"));
    }

    #[test]
    fn i686_get_pc_thunk_becomes_mov_imm() {
        const THUNK_BX: u64 = 0x0804_8F00;
        const THUNK_CX: u64 = 0x0804_8F10;
        const NOT_A_THUNK: u64 = 0x0804_8F20;
        let peek = |addr: u64| match addr {
            THUNK_BX => Some([0x8B, 0x1C, 0x24, 0xC3]),
            THUNK_CX => Some([0x8B, 0x0C, 0x24, 0xC3]),
            // mov esp, [esp]; ret: not a get-PC helper.
            NOT_A_THUNK => Some([0x8B, 0x24, 0x24, 0xC3]),
            _ => None,
        };
        // call rel32 ending at `end`.
        let call = |end: u64, target: u64| l32(&[0xE8], target.wrapping_sub(ENTRY32 + end) as u32);
        let prologue = cat(&[
            &call(5, THUNK_BX),     // 0: call __x86.get_pc_thunk.bx
            &call(10, THUNK_CX),    // 5: call __x86.get_pc_thunk.cx
            &call(15, NOT_A_THUNK), // 10: call a function
        ]);
        let input = cat(&[&prologue, &stub32(0)]);
        let p = relocate(Bits::B32, &input, ENTRY32, &peek).unwrap();
        let expected = cat(&[
            &l32(&[0xBB], ENTRY32 as u32 + 5),  // 0: mov ebx, entry + 5
            &l32(&[0xB9], ENTRY32 as u32 + 10), // 5: mov ecx, entry + 10
            &d32(&[0xE8], 0),                   // 10: call (fixup)
        ]);
        assert_eq!(p.code[..15], expected[..]);
        assert_eq!(
            p.fixups[0],
            Fixup::Rel32 {
                at: 11,
                target: NOT_A_THUNK
            }
        );
        check(Bits::B32, &p, cont32(&prologue));

        // On x86_64 the peek is never consulted: a call out is a call out.
        let calls = |_: u64| -> Option<[u8; 4]> { panic!("peek used on x86_64") };
        let input = cat(&[&d32(&[0xE8], -0x100), &stub64(0)]);
        relocate(Bits::B64, &input, ENTRY64, &calls).unwrap();
    }

    #[test]
    fn unmovable_control_flow_is_unsupported() {
        let cases: &[(&[u8], &str)] = &[
            (&[0xE9, 0x00, 0x10, 0x00, 0x00], "jump out of the prologue"),
            (&[0xEB, 0x7F], "jump out of the prologue"),
            (&[0xEB, 0x80], "jump out of the prologue"),
            (
                &[0x0F, 0x84, 0x00, 0x10, 0x00, 0x00],
                "conditional jump out of the prologue",
            ),
            (&[0x75, 0x40], "conditional jump out of the prologue"),
            (&[0xC3], "return"),
            (&[0xC2, 0x08, 0x00], "return"),
            (&[0xCC], "interrupt"),
            (&[0xCD, 0x80], "interrupt"),
            (&[0xFF, 0xD0], "indirect branch"),
            (&[0xFF, 0xE0], "indirect branch"),
            (&[0xFF, 0x24, 0xC5, 0, 0, 0, 0], "indirect branch"),
            (&[0x0F, 0x0B], "undefined instruction"),
            (&[0xF4], "hlt"),
            (&[0x0F, 0x05], "system call"),
            (&[0xE3, 0x00], "jrcxz/loop (no rel32 form)"),
            (&[0xE2, 0xFE], "jrcxz/loop (no rel32 form)"),
            (&[0xE8, 0, 0, 0, 0], "call into the prologue"),
            (&[0x3E, 0x74, 0x00], "prefixed relative branch"),
            (&[0xF2, 0xE8, 0, 0, 0, 0], "prefixed relative branch"),
            (&[0xC7, 0xF8, 0, 0, 0, 0], "xbegin (relative abort target)"),
            (&[0xEB, 0x01], "branch into the middle of an instruction"),
        ];
        for &(insn, what) in cases {
            // push rbp; <insn>; mov rbp, rsp
            let prologue = cat(&[&[0x55], insn, &[0x48, 0x89, 0xE5]]);
            assert_eq!(unsupported(reloc64(&prologue)), (1, what), "{insn:02x?}");
        }

        let cases32: &[(&[u8], &str)] = &[
            (&[0xE9, 0x00, 0x10, 0x00, 0x00], "jump out of the prologue"),
            (&[0xC3], "return"),
            (&[0xFF, 0xD0], "indirect branch"),
            (&[0x9A, 0, 0, 0, 0, 0x23, 0], "far branch"),
            (&[0xEA, 0, 0, 0, 0, 0x23, 0], "far branch"),
            (&[0x0F, 0x34], "system call"),
            (&[0xE8, 0, 0, 0, 0], "call into the prologue"),
        ];
        for &(insn, what) in cases32 {
            // push ebp; <insn>; mov ebp, esp
            let prologue = cat(&[&[0x55], insn, &[0x89, 0xE5]]);
            assert_eq!(unsupported(reloc32(&prologue)), (1, what), "{insn:02x?}");
        }

        // i686: a branch to the `pop` of a rewritten `call $+5; pop` pair.
        let (_, what) = unsupported(reloc32(&[0x74, 0x05, 0xE8, 0, 0, 0, 0, 0x5B]));
        assert_eq!(what, "branch into the middle of an instruction");
        // A branch to the stub's jump (not its mov) leaves the copied block.
        let (_, what) = unsupported(reloc32(&[0x74, 0x05]));
        assert_eq!(what, "conditional jump out of the prologue");
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert_eq!(reloc64(&[0x06]), Err(RelocError::Decode { offset: 0 }));
        assert_eq!(
            reloc64(&[0x90, 0x06]),
            Err(RelocError::Decode { offset: 1 })
        );
        // A load cut short by the stub: only its first two bytes are in the prologue.
        assert_eq!(
            reloc64(&[0x90, 0x48, 0x8B]),
            Err(RelocError::Decode { offset: 1 })
        );

        let good = cat(&[&[0x55], &stub64(0)]);
        let r = |code: &[u8]| relocate(Bits::B64, code, ENTRY64, &no_peek);
        let malformed = Err(RelocError::MalformedStub);
        assert_eq!(r(&[]), malformed);
        assert_eq!(r(&MAGIC), malformed);
        assert_eq!(r(&good[..good.len() - 1]), malformed);
        assert!(r(&good[1..]).is_ok());
        assert_eq!(r(&good[2..]), malformed);
        let mut wrong = good.clone();
        wrong[11] = 0x0F; // jmp short to the last byte of the magic
        assert_eq!(r(&wrong), malformed);
        let mut wrong = good.clone();
        wrong[3] ^= 1; // placeholder
        assert_eq!(r(&wrong), malformed);
        let mut wrong = good.clone();
        wrong[1] = 0x4C; // REX.WR is not the stub's encoding
        assert_eq!(r(&wrong), malformed);
        assert_eq!(relocate(Bits::B32, &good, ENTRY32, &no_peek), malformed);
        let good32 = cat(&[&[0x55], &stub32(0)]);
        assert_eq!(r(&good32), malformed);

        // Addresses that do not fit the mode.
        let out = Err(RelocError::OutOfRange { offset: 0 });
        assert_eq!(relocate(Bits::B64, &good, u64::MAX - 4, &no_peek), out);
        assert_eq!(relocate(Bits::B32, &good32, 0xFFFF_FFF0, &no_peek), out);
        assert_eq!(relocate(Bits::B32, &good32, 1 << 32, &no_peek), out);
        // A branch whose target is past the end of the 64-bit address space.
        let input = cat(&[&d32(&[0xE9], i32::MAX), &stub64(0)]);
        assert_eq!(relocate(Bits::B64, &input, u64::MAX - 0x100, &no_peek), out);
    }

    #[test]
    fn prologue_length_is_bounded() {
        let nops = vec![0x90; MAX_PROLOGUE_LEN];
        let p = reloc64(&nops).unwrap();
        check(Bits::B64, &p, cont64(&nops));
        let nops = vec![0x90; MAX_PROLOGUE_LEN + 1];
        let (offset, _) = unsupported(reloc64(&nops));
        assert_eq!(offset, MAX_PROLOGUE_LEN);
    }

    /// xorshift64: deterministic pseudo-random numbers without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn byte(&mut self) -> u8 {
            self.next().to_le_bytes()[0]
        }
    }

    /// Instruction fragments that exercise every rule, mixed with raw random bytes.
    const FRAGMENTS: &[&[u8]] = &[
        &[0x55],
        &[0x53],
        &[0x5B],
        &[0x90],
        &[0x48, 0x89, 0xE5],
        &[0x48, 0x83, 0xEC, 0x40],
        &[0x84, 0xC0],
        &[0x74, 0x02],
        &[0x75, 0xFC],
        &[0xEB, 0x01],
        &[0x0F, 0x84, 0x03, 0, 0, 0],
        &[0xE8, 0, 0, 0, 0],
        &[0xE8, 0x00, 0x10, 0, 0],
        &[0x48, 0x8D, 0x05, 0x10, 0, 0, 0],
        &[0x4C, 0x8B, 0x2D, 0xF0, 0xFF, 0xFF, 0xFF],
        &[0x8B, 0x05, 0, 0, 0, 0],
        &[0x0F, 0x29, 0x44, 0x24, 0x30],
        &[0x0F, 0x2E, 0x15, 0xF2, 0x0D, 0xFF, 0xFF],
        &[0x83, 0x3D, 0x10, 0, 0, 0, 0x05],
        &[0xC4, 0xC2, 0x7D, 0x18, 0x05, 0, 0x01, 0, 0],
        &[0x48, 0x89, 0x3D, 0x00, 0xF0, 0xFF, 0xFF],
    ];

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let peek = |addr: u64| (addr % 3 == 0).then_some([0x8B, 0x1C, 0x24, 0xC3]);
        let mut ok = [0usize; 2];
        for round in 0..6000 {
            let bits = if round % 2 == 0 { Bits::B64 } else { Bits::B32 };
            let mut prologue = Vec::new();
            for _ in 0..rng.below(12) {
                if rng.below(3) == 0 {
                    for _ in 0..1 + rng.below(4) {
                        prologue.push(rng.byte());
                    }
                } else {
                    prologue.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())]);
                }
            }
            let (mut input, entry) = match bits {
                Bits::B64 => {
                    let stub = stub64(rng.below(16) as u8);
                    (cat(&[&prologue, &stub]), ENTRY64 + rng.below(0x1000) as u64)
                }
                Bits::B32 => {
                    let stub = stub32(rng.below(8) as u8);
                    (cat(&[&prologue, &stub]), ENTRY32 + rng.below(0x1000) as u64)
                }
            };
            // Sometimes damage the input: truncate it or flip bits of one byte.
            match rng.below(8) {
                0 => input.truncate(rng.below(input.len() + 1)),
                1 => {
                    let at = rng.below(input.len());
                    input[at] ^= rng.byte() | 1;
                }
                _ => {}
            }
            if let Ok(p) = relocate(bits, &input, entry, &peek) {
                ok[round % 2] += 1;
                check(bits, &p, entry + input.len() as u64);
            }
        }
        // The generator is not vacuous: a good share of the inputs relocate.
        assert!(ok[0] > 300 && ok[1] > 300, "{ok:?}");

        // Pure noise, with and without a magic at the end, at any entry address.
        for round in 0..4000 {
            let bits = if round % 2 == 0 { Bits::B64 } else { Bits::B32 };
            let mut input: Vec<u8> = (0..rng.below(48)).map(|_| rng.byte()).collect();
            if round % 4 < 2 {
                input.extend_from_slice(&MAGIC);
            }
            let _ = relocate(bits, &input, rng.next(), &peek);
        }
    }
}
