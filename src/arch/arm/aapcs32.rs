//! 32-bit ARM classification (the AAPCS, base standard and VFP variant) into a
//! [`CallPlan`].
//!
//! Host-independent: it reads only type layouts, so its tables are tested on any host whose
//! `double` and 64-bit integers are 8-byte aligned (not i686); on x86_64 the layouts are
//! x86_64's: the tests below avoid pointers and `long double`, whose sizes differ, and name
//! other sizes through the types.
//!
//! Frame layout of a call (and of a closure's register save area):
//!
//! ```text
//!  0x00  s0 s1 ... s15       the VFP argument registers (= d0..d7), 4 bytes each
//!  0x40  r0 r1 r2 r3         the core argument registers
//!  0x50  stack arguments     (the callee's [sp] at the call)
//! ```
//!
//! r0..r3 sit right below the stack arguments, as the AAPCS lays them out for an argument
//! split between r3 and the stack (rule C.5): such an argument is one [`Move`] whose bytes
//! run from its first register into the stack part, and a closure entry that pushes r0..r3
//! and then d0..d7 just below the caller's stack arguments has saved exactly this layout.
//!
//! Arguments (AAPCS §6.5 stage C; NCRN = next core register, NSAA = next stacked argument
//! address):
//!
//! - A *VFP candidate* (VFP variant only, and never in a variadic call): `float`, `double`,
//!   `_Complex float/double`, or a homogeneous aggregate: a struct, union or array whose
//!   scalars are 1 to 4 of the same `float` or `double`, with no padding (gcc's
//!   `aapcs_vfp_sub_candidate`: a union counts its largest member). It takes the
//!   lowest-numbered consecutive free s registers (d registers for `double`), which back-fills
//!   a single-precision hole left by a `double`'s alignment (C.1). If none are free, every
//!   VFP register becomes unavailable and it goes to the stack (C.2).
//! - Anything else (everything in the base standard) goes to core registers: 8-byte aligned
//!   values (see [`doubleword`]) start at an even register (C.3); a value that fits in the
//!   registers left takes them (C.4); one that does not is split between the registers left
//!   and the stack if nothing is on the stack yet (C.5); otherwise no core register is used
//!   any more (C.6) and it goes to the stack, at an 8-aligned NSAA if it is 8-byte aligned.
//!   Every stack argument takes its size rounded up to 4 bytes.
//! - Integers narrower than 4 bytes are sign- or zero-extended to 4 by the caller.
//! - Variadic calls use the base standard for every argument and the return value, even
//!   under the VFP variant (libffi switches such a Cif to `FFI_SYSV`; gcc: `double f(int,
//!   ...)` returns in r0:r1).
//!
//! Results: integers and pointers in r0 (narrower ones widened to libffi's 4-byte `ffi_arg`
//! in the return buffer), 64-bit integers in r0:r1; VFP variant: `float` in s0, `double` in
//! d0, a VFP candidate in s0..s3 or d0..d3; base standard: `float` in r0, `double` in r0:r1.
//! Any other struct, union or complex value of at most 4 bytes comes back in r0, a larger
//! one through memory whose address the caller passes in r0 (so the arguments start at r1).
//!
//! `long double` is `double` on ARM; `__int128` does not exist ([`ValueTypeError::Unsupported`]).
//!
//! Departures from libffi (arm/ffi.c), both following gcc 12 (`arm-linux-gnueabihf-gcc -O2`,
//! see the tests): after an argument went to the stack, libffi keeps filling core registers
//! left free by a larger argument; gcc and the AAPCS (C.6) do not. libffi aligns an
//! argument by its type's alignment; gcc by the greatest alignment of its *members* (a
//! struct's own `aligned` attribute does not make it 8-byte aligned) capped at 8. What
//! libffi cannot describe follows gcc as well: a homogeneous union is a VFP candidate, and
//! a padded (over-aligned) float struct is not.

use crate::dynamic::plan::{
    check_arg, frame_add, homogeneous_float, ret_widen, scalar_op, CallPlan, Move, MoveOp,
    PlanError, RetPart, RetPlan, RetReg, ValueTypeError,
};
use crate::dynamic::types::{Type, TypeKind};

/// Frame offset of s0 (d0): the VFP part of the register block.
pub const S0: u32 = 0;
/// Number of single-precision argument registers (s0..s15).
pub const VFP_REGS: u32 = 16;
/// Frame offset of r0.
pub const R0: u32 = 0x40;
/// Number of core argument registers (r0..r3).
pub const CORE_REGS: u32 = 4;
/// Bytes of the register part of the frame; the stack arguments follow.
pub const REG_BLOCK: u32 = R0 + 4 * CORE_REGS;

const _: () = assert!(S0 + 4 * VFP_REGS == R0 && REG_BLOCK == 0x50);

/// The two 32-bit ARM procedure call standards of libffi.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Convention {
    /// The base standard (soft-float: floating-point values in core registers; libffi's arm
    /// `FFI_SYSV`, gcc's `pcs("aapcs")`, Rust's `extern "aapcs"`).
    Aapcs,
    /// The VFP variant (hard-float: the C ABI of `*-gnueabihf`; libffi's `FFI_VFP`, gcc's
    /// `pcs("aapcs-vfp")`).
    Vfp,
}

/// The element of a VFP candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base {
    /// `float`: one s register per element.
    Single,
    /// `double`: one d register (two s registers) per element.
    Double,
}

impl Base {
    /// s registers per element.
    fn width(self) -> u32 {
        match self {
            Self::Single => 1,
            Self::Double => 2,
        }
    }
}

/// `ty` as a VFP candidate: its element and the number of elements (1..=4), or `None`
/// (gcc's `aapcs_vfp_sub_candidate`, `plan::homogeneous_float`).
fn vfp_candidate(ty: &Type) -> Option<(Base, u32)> {
    let base_of = |t: &Type| match t.kind() {
        TypeKind::F32 => Some((Base::Single, 4)),
        TypeKind::F64 => Some((Base::Double, 8)),
        // `long double` is `double` on ARM; another layout is not ARM's.
        TypeKind::LongDouble if t.size() == 8 => Some((Base::Double, 8)),
        _ => None,
    };
    let (base, _, count) = homogeneous_float(ty, &base_of)?;
    Some((base, count as u32))
}

/// Whether an argument of `ty` is 8-byte aligned for passing (C.3, C.7), by gcc's rule
/// (`arm_needs_doubleword_align`): a scalar or complex value by its own alignment, an array
/// by its element's, a struct or union by its most aligned member (the aggregate's own
/// over-alignment does not count). Alignment beyond 8 passes as 8.
pub fn doubleword(ty: &Type) -> bool {
    match ty.kind() {
        TypeKind::Struct | TypeKind::Union => ty.members().iter().any(|m| m.align() > 4),
        TypeKind::Array => ty.element().is_some_and(|e| e.align() > 4),
        _ => ty.align() > 4,
    }
}

/// Where the next argument goes: NCRN, NSAA and the VFP registers in use.
struct Allocator {
    /// The next core register (0..=4).
    ncrn: u32,
    /// Bytes of stack arguments so far.
    nsaa: u32,
    /// The s registers in use, one bit each.
    vfp_used: u32,
}

impl Allocator {
    /// C.1/C.2: the frame offset of the lowest free run of s registers for `count` elements
    /// of `base`, or `None` (then every VFP register becomes unavailable).
    fn vfp(&mut self, base: Base, count: u32) -> Option<u32> {
        let width = base.width();
        let n = count * width;
        let mask = (1u32 << n) - 1;
        let mut reg = 0;
        while reg + n <= VFP_REGS {
            if self.vfp_used & (mask << reg) == 0 {
                self.vfp_used |= mask << reg;
                return Some(S0 + 4 * reg);
            }
            reg += width;
        }
        self.vfp_used = (1 << VFP_REGS) - 1;
        None
    }

    /// C.3..C.6: the frame offset of a core-register argument of `bytes` (a multiple of 4),
    /// in registers, split into the stack, or on the stack.
    fn core(&mut self, bytes: u32, dw: bool, arg: usize) -> Result<u32, PlanError> {
        if dw {
            self.ncrn = (self.ncrn + 1) & !1;
        }
        let left = 4 * (CORE_REGS - self.ncrn);
        let dst = R0 + 4 * self.ncrn;
        if bytes <= left {
            self.ncrn += bytes / 4;
            return Ok(dst);
        }
        if left > 0 && self.nsaa == 0 {
            // Split: the rest continues at the start of the stack arguments.
            self.ncrn = CORE_REGS;
            self.nsaa = bytes - left;
            return Ok(dst);
        }
        self.ncrn = CORE_REGS;
        self.stack(bytes, dw, arg)
    }

    /// C.7/C.8 (and C.2): the frame offset of a stack argument of `bytes`.
    fn stack(&mut self, bytes: u32, dw: bool, arg: usize) -> Result<u32, PlanError> {
        if dw {
            self.nsaa = self.nsaa.next_multiple_of(8);
        }
        let dst = frame_add(REG_BLOCK, self.nsaa as usize, Some(arg))?;
        self.nsaa = frame_add(self.nsaa, bytes as usize, Some(arg))?;
        Ok(dst)
    }
}

/// Classifies a signature (see [`CallPlan::build`]).
pub fn plan(
    conv: Convention,
    args: &[Type],
    ret: &Type,
    nfixed: Option<usize>,
) -> Result<CallPlan, PlanError> {
    CallPlan::build(
        |args, ret, nfixed, plan| classify_signature(conv, args, ret, nfixed, plan),
        args,
        ret,
        nfixed,
    )
}

/// A type the ARM ABIs cannot pass: `__int128`, or a `long double` that is not 8 bytes
/// (another target's layout).
fn unsupported(ty: &Type) -> bool {
    match ty.kind() {
        TypeKind::U128 | TypeKind::I128 => true,
        TypeKind::LongDouble => ty.size() != 8,
        _ => false,
    }
}

/// The return plan of `ty`, the hidden pointer's place left at r0.
fn ret_plan(ty: &Type, vfp: bool) -> Result<RetPlan, ValueTypeError> {
    let mut parts = [RetPart::default(); 4];
    let mut count = 0u8;
    let mut push = |reg, off: usize, len: usize| {
        parts[usize::from(count)] = RetPart {
            reg,
            off: off as u8,
            len: len as u8,
        };
        count += 1;
    };
    let mut widen = None;
    let kind = ty.kind();
    let size = ty.size();
    if kind == TypeKind::Void {
        return Ok(RetPlan::Void);
    }
    if unsupported(ty) {
        return Err(ValueTypeError::Unsupported);
    }
    match vfp_candidate(ty).filter(|_| vfp) {
        // s0..s3 are d0 and d1: one part per d register.
        Some(_) => {
            let regs = [RetReg::Vec0, RetReg::Vec1, RetReg::Vec2, RetReg::Vec3];
            for (i, &reg) in regs.iter().enumerate().take(size.div_ceil(8)) {
                push(reg, 8 * i, (size - 8 * i).min(8));
            }
        }
        None if kind.is_aggregate() && size > 4 => return Ok(RetPlan::Indirect { dst: R0 }),
        None => {
            // Scalars in r0 (or r0:r1), small aggregates in r0.
            push(RetReg::Int0, 0, size.min(4));
            if size > 4 {
                push(RetReg::Int1, 4, size - 4);
            }
            if !kind.is_aggregate() {
                widen = ret_widen(ty); // integers and pointers of 4 bytes or less
            }
        }
    }
    Ok(RetPlan::Regs {
        parts,
        count,
        widen,
    })
}

/// The ARM classifier for `conv` (see [`CallPlan::build`]).
pub fn classify_signature(
    conv: Convention,
    args: &[Type],
    ret: &Type,
    nfixed: Option<usize>,
    plan: &mut CallPlan,
) -> Result<(), PlanError> {
    // A variadic call is marshaled by the base standard, fixed arguments and result too.
    let vfp = conv == Convention::Vfp && nfixed.is_none();
    let ret_plan = ret_plan(ret, vfp).map_err(|reason| PlanError { arg: None, reason })?;
    let mut alloc = Allocator {
        ncrn: 0,
        nsaa: 0,
        vfp_used: 0,
    };
    if let RetPlan::Indirect { .. } = ret_plan {
        alloc.ncrn = 1; // the hidden pointer in r0
    }
    let moves = &mut plan.moves;
    for (index, ty) in args.iter().enumerate() {
        check_arg(index, ty, nfixed.is_some_and(|n| index >= n))?;
        if unsupported(ty) {
            return Err(PlanError {
                arg: Some(index),
                reason: ValueTypeError::Unsupported,
            });
        }
        let arg = index as u16;
        let len = u32::try_from(ty.size()).map_err(|_| PlanError {
            arg: Some(index),
            reason: ValueTypeError::TooLarge,
        })?;
        let bytes = frame_add(0, ty.size().next_multiple_of(4), Some(index))?;
        let dw = doubleword(ty);
        let candidate = vfp_candidate(ty).filter(|_| vfp);
        let (dst, op) = match candidate {
            Some((base, count)) => {
                let dst = match alloc.vfp(base, count) {
                    Some(dst) => dst,
                    None => alloc.stack(bytes, dw, index)?,
                };
                (dst, MoveOp::Copy)
            }
            None => {
                let dst = alloc.core(bytes, dw, index)?;
                let op = if len <= 4 && !ty.kind().is_aggregate() {
                    scalar_op(ty.kind(), len)
                } else {
                    MoveOp::Copy
                };
                (dst, op)
            }
        };
        moves.push(Move {
            arg,
            src: 0,
            op,
            dst,
            len,
        });
    }
    let stack_size = frame_add(0, (alloc.nsaa as usize).next_multiple_of(16), None)?;
    let ret_scratch = frame_add(REG_BLOCK, stack_size as usize, None)?;
    plan.finish(ret_plan, ret, REG_BLOCK, stack_size, ret_scratch)
}

// Not on i686 hosts: there `double` and 64-bit integers are 4-byte aligned, so the types
// below would not have ARM's layouts (x86_64, ARM and AArch64 hosts agree with ARM on them).
#[cfg(all(test, not(target_arch = "x86")))]
mod tests {
    //! Golden plans. Each case names the C function gcc 12 was asked about
    //! (`arm-linux-gnueabihf-gcc -O2 -S -marm`, the VFP variant unless marked
    //! `pcs("aapcs")`) and where gcc's code found the values; `tests/dynamic_arm.rs` runs the
    //! same shapes against compiled C.

    use super::*;
    use crate::dynamic::plan::ArgSource;
    use Convention::*;

    fn st(members: &[Type]) -> Type {
        Type::structure(members.iter().cloned()).unwrap()
    }

    /// The destination of each argument's single move, and the plan.
    fn dsts(conv: Convention, args: &[Type], ret: &Type) -> (Vec<u32>, CallPlan) {
        dsts_var(conv, args, ret, None)
    }

    fn dsts_var(
        conv: Convention,
        args: &[Type],
        ret: &Type,
        nfixed: Option<usize>,
    ) -> (Vec<u32>, CallPlan) {
        let plan = plan(conv, args, ret, nfixed).unwrap();
        let dsts = (0..args.len())
            .map(|i| {
                let moves = plan.moves_of(i);
                assert_eq!(moves.len(), 1, "argument {i} is one move");
                assert_eq!(moves[0].len as usize, args[i].size(), "argument {i}");
                moves[0].dst
            })
            .collect();
        (dsts, plan)
    }

    /// Frame offset of core register `n`.
    const fn r(n: u32) -> u32 {
        R0 + 4 * n
    }
    /// Frame offset of single-precision register `n`.
    const fn s(n: u32) -> u32 {
        S0 + 4 * n
    }
    /// Frame offset of double-precision register `n`.
    const fn d(n: u32) -> u32 {
        S0 + 8 * n
    }
    /// Frame offset of the stack argument at `[sp + off]`.
    const fn sp(off: u32) -> u32 {
        REG_BLOCK + off
    }

    #[test]
    fn integers_fill_r0_to_r3_then_the_stack() {
        let args = [
            Type::I8,
            Type::U16,
            Type::I32,
            Type::U32,
            Type::I16,
            Type::U8,
        ];
        for conv in [Aapcs, Vfp] {
            let (got, plan) = dsts(conv, &args, &Type::I32);
            assert_eq!(got, [r(0), r(1), r(2), r(3), sp(0), sp(4)], "{conv:?}");
            assert_eq!(plan.stack_size, 16);
            assert_eq!(plan.reg_block, REG_BLOCK);
            assert_eq!(plan.callee_pop, 0);
            // The caller extends to 32 bits.
            let ops: Vec<_> = plan.moves.iter().map(|m| m.op).collect();
            use MoveOp::*;
            assert_eq!(
                ops,
                [SignExtend, ZeroExtend, SignExtend, ZeroExtend, SignExtend, ZeroExtend]
            );
        }
    }

    #[test]
    fn doublewords_take_even_pairs_and_8_aligned_slots() {
        // l3(int a, int b, int c, long long d, int e): a..c in r0..r2, d at [sp] (r3 is
        // skipped, and no longer used: C.6), e at [sp + 8].
        let args = [Type::I32, Type::I32, Type::I32, Type::I64, Type::I32];
        let (got, _) = dsts(Vfp, &args, &Type::I64);
        assert_eq!(got, [r(0), r(1), r(2), sp(0), sp(8)]);
        // ll(int a, struct { long long x; } s): s in r2:r3.
        let (got, _) = dsts(Vfp, &[Type::I32, st(&[Type::I64])], &Type::I32);
        assert_eq!(got, [r(0), r(2)]);
        // sf(float a, double b, float c), pcs("aapcs"): r0, r2:r3, [sp].
        let (got, plan) = dsts(Aapcs, &[Type::F32, Type::F64, Type::F32], &Type::F64);
        assert_eq!(got, [r(0), r(2), sp(0)]);
        assert_eq!(
            plan.ret,
            RetPlan::regs(&[(RetReg::Int0, 0, 4), (RetReg::Int1, 4, 4)], None)
        );
        // A stack doubleword after a 4-byte stack argument is 8-aligned.
        let (got, _) = dsts(
            Aapcs,
            &[
                Type::I32,
                Type::I32,
                Type::I32,
                Type::I32,
                Type::I32,
                Type::F64,
            ],
            &Type::VOID,
        );
        assert_eq!(got[4..], [sp(0), sp(8)]);
    }

    #[test]
    fn doubleword_alignment_follows_gcc() {
        // a8(int a, struct __attribute__((aligned(8))) { int a, b; } s): s in r1:r2, as the
        // struct's own over-alignment does not count (libffi would take r2:r3).
        let s8a = st(&[Type::I32, Type::I32]).aligned(8).unwrap();
        assert!(!doubleword(&s8a));
        let (got, _) = dsts(Vfp, &[Type::I32, s8a], &Type::I32);
        assert_eq!(got, [r(0), r(1)]);
        // a16(int a, aligned(16) { int a, b; } s): 16 bytes, split r1..r3 + [sp]; 4-aligned.
        let s16a = st(&[Type::I32, Type::I32]).aligned(16).unwrap();
        let (got, plan) = dsts(Vfp, &[Type::I32, s16a, Type::I32], &Type::I32);
        assert_eq!(got, [r(0), r(1), sp(4)]);
        assert_eq!(plan.stack_size, 16);
        // A member of alignment 8 does count, as does an array of doubles.
        assert!(doubleword(&st(&[Type::I32, s16_member()])));
        assert!(doubleword(&Type::complex_f64()));
        assert!(!doubleword(&Type::complex_f32()));
    }

    fn s16_member() -> Type {
        st(&[Type::I32]).aligned(8).unwrap()
    }

    #[test]
    fn composites_split_between_r3_and_the_stack_only_first() {
        let s12 = st(&[Type::I32, Type::I32, Type::I32]);
        // c5(int, int, int, s12 s, int x): s in r3 + [sp..sp+8], one move running from
        // r3 into the stack part; x at [sp + 8].
        let args = [Type::I32, Type::I32, Type::I32, s12.clone(), Type::I32];
        let (got, plan) = dsts(Vfp, &args, &Type::I32);
        assert_eq!(got, [r(0), r(1), r(2), r(3), sp(8)]);
        // One 12-byte copy: the frame puts r3 right below the stack arguments.
        let split = plan.moves_of(3);
        assert_eq!(
            (split.len(), split[0].op, split[0].len),
            (1, MoveOp::Copy, 12)
        );
        // split2(int a, struct { double d; int i; } s, int x): s (8-aligned) in r2:r3 +
        // 8 bytes of stack, x at [sp + 8].
        let sd = st(&[Type::F64, Type::I32]);
        let (got, _) = dsts(Vfp, &[Type::I32, sd, Type::I32], &Type::I32);
        assert_eq!(got, [r(0), r(2), sp(8)]);
        // c6(8 doubles, double stk, int, int, int, s12 s, int x): once a double went to the
        // stack, s is not split (C.5 needs an empty stack): s at [sp + 8], and x at
        // [sp + 20], not in r3 (C.6; libffi would use r3).
        let mut args = vec![Type::F64; 9];
        args.extend([Type::I32, Type::I32, Type::I32, s12, Type::I32]);
        let (got, _) = dsts(Vfp, &args, &Type::I32);
        let fp: Vec<u32> = (0..8).map(d).collect();
        assert_eq!(got[..8], fp[..]);
        assert_eq!(got[8..], [sp(0), r(0), r(1), r(2), sp(8), sp(20)]);
        // f5f(struct { float a, b, c, d, e; } s, float x): five floats are no VFP candidate:
        // r0..r3 + [sp]; x in s0.
        let f5 = st(&[Type::F32; 5]);
        let (got, _) = dsts(Vfp, &[f5, Type::F32], &Type::F32);
        assert_eq!(got, [r(0), s(0)]);
    }

    #[test]
    fn vfp_registers_back_fill() {
        // bf(float a, double b, float c): s0, d1, s1.
        let (got, plan) = dsts(Vfp, &[Type::F32, Type::F64, Type::F32], &Type::F32);
        assert_eq!(got, [s(0), d(1), s(1)]);
        assert_eq!(plan.stack_size, 0);
        assert_eq!(plan.ret, RetPlan::regs(&[(RetReg::Vec0, 0, 4)], None));
        // bf2(float a, double b, double c, float d, float e): s0, d1, d2, s1, s6.
        let (got, _) = dsts(
            Vfp,
            &[Type::F32, Type::F64, Type::F64, Type::F32, Type::F32],
            &Type::F32,
        );
        assert_eq!(got, [s(0), d(1), d(2), s(1), s(6)]);
        // Integers are independent of the VFP registers.
        let (got, _) = dsts(Vfp, &[Type::I32, Type::F64, Type::I64], &Type::VOID);
        assert_eq!(got, [r(0), d(0), r(2)]);
        // The same under the base standard: all core registers.
        let (got, _) = dsts(Aapcs, &[Type::F32, Type::F64, Type::F32], &Type::F32);
        assert_eq!(got, [r(0), r(2), sp(0)]);
    }

    #[test]
    fn a_vfp_candidate_on_the_stack_closes_the_vfp_registers() {
        // st(7 doubles, float, double stk, float after): the float takes s14; the next
        // double finds no free d register and goes to [sp]; `after` then goes to [sp + 8]
        // although s15 is free (C.2).
        let mut args = vec![Type::F64; 7];
        args.extend([Type::F32, Type::F64, Type::F32]);
        let (got, plan) = dsts(Vfp, &args, &Type::F32);
        assert_eq!(got[7..], [s(14), sp(0), sp(8)]);
        assert_eq!(plan.stack_size, 16);
        // hd(d4 a, d4 b, d4 c, int x) with d4 = struct { double a, b, c, d; }: a in d0..d3,
        // b in d4..d7, c at [sp] (32 bytes), x in r0.
        let d4 = st(&[Type::F64; 4]);
        let (got, plan) = dsts(Vfp, &[d4.clone(), d4.clone(), d4, Type::I32], &Type::I32);
        assert_eq!(got, [d(0), d(4), sp(0), r(0)]);
        assert_eq!(plan.stack_size, 32);
        // split_dw(int a, d4 s, int x): s in d0..d3, x in r1.
        let d4 = st(&[Type::F64; 4]);
        let (got, _) = dsts(Vfp, &[Type::I32, d4, Type::I32], &Type::I32);
        assert_eq!(got, [r(0), d(0), r(1)]);
    }

    #[test]
    fn homogeneous_aggregates() {
        let cand = |ty: &Type| vfp_candidate(ty).map(|(b, n)| (b == Base::Double, n));
        assert_eq!(cand(&Type::F32), Some((false, 1)));
        assert_eq!(cand(&st(&[Type::F64; 4])), Some((true, 4)));
        assert_eq!(cand(&st(&[Type::F32; 5])), None);
        assert_eq!(cand(&st(&[Type::F32, Type::F64])), None); // fd_: r0..r3
        assert_eq!(cand(&st(&[Type::F32, Type::I32])), None);
        // Nested structs and arrays count their scalars.
        let nested = st(&[
            st(&[Type::F32, Type::F32]),
            Type::array(Type::F32, 2).unwrap(),
        ]);
        assert_eq!(cand(&nested), Some((false, 4)));
        assert_eq!(cand(&Type::complex_f32()), Some((false, 2)));
        assert_eq!(cand(&Type::complex_f64()), Some((true, 2)));
        // hfa8(struct __attribute__((aligned(8))) { float a, b; }): s0, s1 (no padding).
        assert_eq!(
            cand(&st(&[Type::F32; 2]).aligned(8).unwrap()),
            Some((false, 2))
        );
        // Padding makes it no candidate.
        assert_eq!(cand(&st(&[Type::F32; 2]).aligned(16).unwrap()), None);
        // uf(union { float a; float b[3]; }): the largest member, s0..s2.
        let uf3 = Type::union([Type::F32, Type::array(Type::F32, 3).unwrap()]).unwrap();
        assert_eq!(cand(&uf3), Some((false, 3)));
        let (got, _) = dsts(Vfp, &[Type::F32, uf3], &Type::F32);
        assert_eq!(got, [s(0), s(1)]);
        // ufd_(float f, union { float a; double b; } u): f in s0, u in r0:r1.
        let ufd = Type::union([Type::F32, Type::F64]).unwrap();
        assert_eq!(cand(&ufd), None);
        let (got, _) = dsts(Vfp, &[Type::F32, ufd], &Type::F32);
        assert_eq!(got, [s(0), r(0)]);
        // cfarg(float a, _Complex float z, float b): s0, s1..s2, s3.
        let (got, _) = dsts(
            Vfp,
            &[Type::F32, Type::complex_f32(), Type::F32],
            &Type::I32,
        );
        assert_eq!(got, [s(0), s(1), s(3)]);
        // cdarg_b(int a, _Complex double z), pcs("aapcs"): z in r2:r3 + [sp] (split).
        let (got, plan) = dsts(Aapcs, &[Type::I32, Type::complex_f64()], &Type::I32);
        assert_eq!(got, [r(0), r(2)]);
        assert_eq!(plan.stack_size, 16);
    }

    #[test]
    fn returns() {
        let ret = |conv, ty: &Type| plan(conv, &[], ty, None).unwrap().ret;
        for conv in [Aapcs, Vfp] {
            assert_eq!(ret(conv, &Type::VOID), RetPlan::Void);
            assert_eq!(
                ret(conv, &Type::I8),
                RetPlan::regs(&[(RetReg::Int0, 0, 1)], Some(true))
            );
            assert_eq!(
                ret(conv, &Type::U16),
                RetPlan::regs(&[(RetReg::Int0, 0, 2)], Some(false))
            );
            assert_eq!(
                ret(conv, &Type::I32),
                RetPlan::regs(&[(RetReg::Int0, 0, 4)], Some(true))
            );
            let pair = RetPlan::regs(&[(RetReg::Int0, 0, 4), (RetReg::Int1, 4, 4)], None);
            assert_eq!(ret(conv, &Type::U64), pair);
            // rs3(): struct { char a, b, c; } in r0.
            let s3 = st(&[Type::U8; 3]);
            assert_eq!(ret(conv, &s3), RetPlan::regs(&[(RetReg::Int0, 0, 3)], None));
            // Larger composites through memory, the pointer in r0; arguments from r1.
            let s8 = st(&[Type::I32, Type::I32]);
            let (got, p) = dsts(conv, &[Type::I32, Type::I64], &s8);
            assert_eq!(p.ret, RetPlan::Indirect { dst: r(0) });
            assert_eq!(got, [r(1), r(2)]);
            assert!(p.frame_size >= p.ret_scratch + 8);
            assert_eq!(p.ret_scratch, REG_BLOCK + p.stack_size);
        }
        // The base standard: floating point in core registers; cf_b(), cd_b(): complex
        // values are composites (8 and 16 bytes: through memory).
        let pair = RetPlan::regs(&[(RetReg::Int0, 0, 4), (RetReg::Int1, 4, 4)], None);
        assert_eq!(
            ret(Aapcs, &Type::F32),
            RetPlan::regs(&[(RetReg::Int0, 0, 4)], None)
        );
        assert_eq!(ret(Aapcs, &Type::F64), pair);
        for c in [Type::complex_f32(), Type::complex_f64()] {
            assert_eq!(ret(Aapcs, &c), RetPlan::Indirect { dst: r(0) });
        }
        // The VFP variant: s0, d0, and candidates in s0..s3 / d0..d3 (cf(): s0, s1;
        // cd(): d0, d1).
        assert_eq!(
            ret(Vfp, &Type::F32),
            RetPlan::regs(&[(RetReg::Vec0, 0, 4)], None)
        );
        assert_eq!(
            ret(Vfp, &Type::F64),
            RetPlan::regs(&[(RetReg::Vec0, 0, 8)], None)
        );
        assert_eq!(
            ret(Vfp, &Type::complex_f32()),
            RetPlan::regs(&[(RetReg::Vec0, 0, 8)], None)
        );
        assert_eq!(
            ret(Vfp, &st(&[Type::F32; 3])),
            RetPlan::regs(&[(RetReg::Vec0, 0, 8), (RetReg::Vec1, 8, 4)], None)
        );
        assert_eq!(
            ret(Vfp, &st(&[Type::F64; 4])),
            RetPlan::regs(
                &[
                    (RetReg::Vec0, 0, 8),
                    (RetReg::Vec1, 8, 8),
                    (RetReg::Vec2, 16, 8),
                    (RetReg::Vec3, 24, 8)
                ],
                None
            )
        );
        // A small union of a float: s0; a 12-byte int struct: memory.
        let u = Type::union([Type::F32]).unwrap();
        assert_eq!(ret(Vfp, &u), RetPlan::regs(&[(RetReg::Vec0, 0, 4)], None));
        assert_eq!(ret(Aapcs, &u), RetPlan::regs(&[(RetReg::Int0, 0, 4)], None));
    }

    #[test]
    fn variadic_calls_use_the_base_standard() {
        // callv(): vfix("x", 1.5, 2) passes 1.5 in r2:r3 and 2 at [sp].
        let args = [Type::I32, Type::F64, Type::I32];
        let (got, _) = dsts_var(Vfp, &args, &Type::I32, Some(1));
        assert_eq!(got, [r(0), r(2), sp(0)]);
        // callvd(): vfixd(2.5, 3.5) with a fixed double: r0:r1, r2:r3; the result in r0:r1.
        let (got, p) = dsts_var(Vfp, &[Type::F64, Type::F64], &Type::F64, Some(1));
        assert_eq!(got, [r(0), r(2)]);
        assert_eq!(
            p.ret,
            RetPlan::regs(&[(RetReg::Int0, 0, 4), (RetReg::Int1, 4, 4)], None)
        );
        let err = plan(Vfp, &[Type::I32, Type::F32], &Type::VOID, Some(1)).unwrap_err();
        assert_eq!(err.reason, ValueTypeError::NotPromoted);
    }

    #[test]
    fn refused_types() {
        for conv in [Aapcs, Vfp] {
            let err = plan(conv, &[], &Type::I128, None).unwrap_err();
            assert_eq!((err.arg, err.reason), (None, ValueTypeError::Unsupported));
            let err = plan(conv, &[Type::I32, Type::U128], &Type::VOID, None).unwrap_err();
            assert_eq!(
                (err.arg, err.reason),
                (Some(1), ValueTypeError::Unsupported)
            );
            let err = plan(conv, &[Type::VOID], &Type::VOID, None).unwrap_err();
            assert_eq!(err.reason, ValueTypeError::Void);
        }
        // `long double` is 8 bytes on ARM; another layout (this host's) is refused.
        if Type::LONG_DOUBLE.size() != 8 {
            let err = plan(Vfp, &[Type::LONG_DOUBLE], &Type::VOID, None).unwrap_err();
            assert_eq!(err.reason, ValueTypeError::Unsupported);
        } else {
            let (got, _) = dsts(Vfp, &[Type::F32, Type::LONG_DOUBLE], &Type::LONG_DOUBLE);
            assert_eq!(got, [s(0), d(1)]);
        }
    }

    #[test]
    fn many_arguments_and_frame_sizes() {
        // 20 ints: 4 in registers, 16 on the stack; 16 floats in s0..s15, then the stack.
        let ints = vec![Type::I32; 20];
        let (got, plan) = dsts(Vfp, &ints, &Type::VOID);
        assert_eq!(got[4], sp(0));
        assert_eq!(got[19], sp(60));
        assert_eq!(plan.stack_size, 64);
        assert_eq!(plan.frame_size, REG_BLOCK + 64);
        let floats = vec![Type::F32; 18];
        let (got, plan) = dsts(Vfp, &floats, &Type::VOID);
        assert_eq!(got[15], s(15));
        assert_eq!(got[16..], [sp(0), sp(4)]);
        assert_eq!(plan.stack_size, 16);
    }

    #[test]
    fn closures_find_split_arguments_in_one_piece() {
        // The saved r3 is followed by the caller's stack arguments, so a split struct is
        // read in place (one move, no assembly).
        let s12 = st(&[Type::I32, Type::I32, Type::I32]);
        let args = [Type::I32, Type::I32, Type::I32, s12, Type::F64];
        let p = plan(Vfp, &args, &Type::VOID, None).unwrap();
        let (sources, scratch) = p.arg_sources(args.iter().map(Type::size));
        assert_eq!(
            sources,
            [
                ArgSource::Direct(r(0)),
                ArgSource::Direct(r(1)),
                ArgSource::Direct(r(2)),
                ArgSource::Direct(r(3)),
                ArgSource::Direct(d(0)),
            ]
        );
        assert_eq!(scratch, 0);
    }
}
