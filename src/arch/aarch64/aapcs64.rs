//! AAPCS64 classification (the procedure call standard for the Arm 64-bit architecture, as
//! Linux and gcc implement it) into a [`CallPlan`].
//!
//! Host-independent: it reads only type layouts, so its tables are tested on any 64-bit host.
//! The layouts that matter here (8-byte pointers; `long double` in 16 bytes, 16-aligned,
//! IEEE binary128 on aarch64; `__int128` 16-aligned) are the same on x86_64, where the unit
//! tests run (not on i686, whose layouts differ).
//!
//! Frame layout of a call (and of a closure's register save area):
//!
//! ```text
//!  0x00  x0 .. x7        integer argument registers, 8 bytes each
//!  0x40  x8              the indirect result address (then 8 bytes of padding)
//!  0x50  q0 .. q7        SIMD/FP argument registers, 16 bytes each
//!  0xd0  stack arguments (the callee's [sp] at entry)
//! ```
//!
//! The rules (AAPCS64 stages B and C; NGRN/NSRN count the x and v registers used, NSAA the
//! stack bytes):
//!
//! - `float`, `double`, `long double` take the next v register (a `long double` the whole
//!   q register); without one they go on the stack in an 8-byte slot (16 bytes, 16-aligned
//!   for `long double`).
//! - A homogeneous floating-point aggregate (HFA: a struct, union, array member or complex
//!   type made of 1 to 4 members of one floating-point type, nested aggregates flattened, no
//!   padding) takes one v register per member if enough are left. If not, no later
//!   argument uses a v register (NSRN = 8) and it is copied to the stack, its size rounded
//!   up to 8, at an 8-byte (16 for `long double` members) aligned offset.
//! - Integers and pointers of up to 8 bytes take the next x register, widened to 64 bits
//!   (gcc callees re-extend narrow arguments themselves, so widening is only conservative),
//!   else an 8-byte stack slot.
//! - `__int128`, and composites whose *natural* alignment is 16, start at an even x
//!   register. gcc's natural alignment of a composite is the largest alignment of its
//!   members: an `__attribute__((aligned(16)))` on the struct itself does not count, one on
//!   a member does.
//! - Other composites of up to 16 bytes take 1 or 2 consecutive x registers if they all
//!   fit; otherwise no later argument uses an x register (NGRN = 8) and the composite goes
//!   on the stack, size rounded up to 8, at an offset aligned to max(8, natural alignment).
//! - Composites over 16 bytes that are not HFAs are copied by the caller; the copy's address
//!   is passed like a pointer.
//! - Variadic arguments (on Linux; Apple and Windows differ) are passed exactly like named
//!   ones.
//!
//! Results: integers and pointers in x0 (widened in the return buffer to libffi's 8-byte
//! `ffi_arg`), `__int128` in x0:x1, floating-point values in v0, HFAs in v0..v3 (one member
//! each), other composites of up to 16 bytes in x0 (and x1), larger ones in memory at the
//! address the caller passes in x8 (which the callee need not return: gcc's callee does
//! not set x0).
//!
//! Evidence for the golden tests below: `aarch64-linux-gnu-gcc -O2 -S` (gcc 12.2) on the
//! functions quoted in each test.
//!
//! Where this follows gcc rather than libffi (libffi's `src/aarch64/ffi.c`, as read at
//! commit 05a1796, allocates a composite of up to 16 bytes to the next x registers without
//! rounding NGRN to even, and places stack arguments by `ffi_type.alignment`, which cannot
//! tell a member's alignment from an `aligned` attribute on the struct itself): a struct holding an `__int128` starts
//! at an even x register, a struct that is only `aligned(16)` itself does not and takes an
//! 8-byte aligned stack slot. libffi has no unions; a union of same-kind floating-point
//! members is an HFA here, as in gcc (`float f(union { float a; float b[2]; })` reads `b[1]`
//! from s1).

use alloc::vec::Vec;

use crate::dynamic::plan::{
    check_arg, frame_add, homogeneous_float, ret_widen, scalar_op, CallPlan, Move, MoveOp,
    PlanError, RetPart, RetPlan, RetReg,
};
use crate::dynamic::types::{Type, TypeKind};

/// Frame offset of x0 (x1..x7 follow, 8 bytes each).
pub const X_BLOCK: u32 = 0;
/// Frame offset of x8, the indirect result address.
pub const X8: u32 = 8 * 8;
/// Frame offset of q0 (q1..q7 follow, 16 bytes each).
pub const V_BLOCK: u32 = X8 + 16;
/// Bytes of the register part of the frame.
pub const REG_BLOCK: u32 = V_BLOCK + 8 * 16;
/// Integer argument registers.
pub const MAX_X: u32 = 8;
/// SIMD/FP argument registers.
pub const MAX_V: u32 = 8;

const _: () = assert!(REG_BLOCK == 0xd0 && REG_BLOCK % 16 == 0);

/// Frame offset of x register `n`.
pub const fn x(n: u32) -> u32 {
    X_BLOCK + 8 * n
}

/// Frame offset of v register `n`.
pub const fn v(n: u32) -> u32 {
    V_BLOCK + 16 * n
}

/// A homogeneous floating-point aggregate: `count` (1..=4) members of `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hfa {
    /// Bytes of one member (4, 8 or 16).
    pub size: u32,
    /// Number of members.
    pub count: u32,
}

/// The HFA form of a struct, union or complex type, if it is one (gcc's
/// `aapcs_vfp_sub_candidate`, `plan::homogeneous_float`: `float`, `double` and `long double`
/// are three bases).
pub fn hfa(ty: &Type) -> Option<Hfa> {
    if !matches!(
        ty.kind(),
        TypeKind::Struct | TypeKind::Union | TypeKind::Complex
    ) {
        return None;
    }
    let base_of = |t: &Type| {
        matches!(
            t.kind(),
            TypeKind::F32 | TypeKind::F64 | TypeKind::LongDouble
        )
        .then(|| (t.kind(), t.size()))
    };
    let (_, size, count) = homogeneous_float(ty, &base_of)?;
    Some(Hfa {
        size: size as u32,
        count: count as u32,
    })
}

/// The alignment AAPCS64 uses to place an argument (gcc's `aarch64_function_arg_alignment`):
/// a composite's own `aligned` attribute does not count, only its members' alignments.
pub fn natural_align(ty: &Type) -> usize {
    match ty.kind() {
        TypeKind::Struct | TypeKind::Union => {
            ty.members().iter().map(Type::align).max().unwrap_or(1)
        }
        TypeKind::Array | TypeKind::Complex => ty.element().map_or(1, Type::align),
        _ => ty.align(),
    }
}

/// Classifies a signature for AAPCS64 (see [`CallPlan::build`]).
///
/// # Errors
/// A [`PlanError`] naming the argument (or the return) that cannot be passed by value.
pub fn plan(args: &[Type], ret: &Type, nfixed: Option<usize>) -> Result<CallPlan, PlanError> {
    CallPlan::build(classify_signature, args, ret, nfixed)
}

/// How a value of `ty` comes back.
pub fn ret_plan(ty: &Type) -> RetPlan {
    let mut parts = [RetPart::default(); 4];
    let regs = |parts, count, widen| RetPlan::Regs {
        parts,
        count,
        widen,
    };
    let size = ty.size();
    match ty.kind() {
        TypeKind::Void => RetPlan::Void,
        TypeKind::F32 | TypeKind::F64 | TypeKind::LongDouble => {
            parts[0] = RetPart {
                reg: RetReg::Vec0,
                off: 0,
                len: size as u8,
            };
            regs(parts, 1, None)
        }
        _ => {
            if let Some(h) = hfa(ty) {
                const VECS: [RetReg; 4] = [RetReg::Vec0, RetReg::Vec1, RetReg::Vec2, RetReg::Vec3];
                for (i, part) in parts.iter_mut().take(h.count as usize).enumerate() {
                    *part = RetPart {
                        reg: VECS[i],
                        off: (i as u32 * h.size) as u8,
                        len: h.size as u8,
                    };
                }
                return regs(parts, h.count as u8, None);
            }
            if size > 16 {
                return RetPlan::Indirect { dst: X8 };
            }
            parts[0] = RetPart {
                reg: RetReg::Int0,
                off: 0,
                len: size.min(8) as u8,
            };
            if size > 8 {
                parts[1] = RetPart {
                    reg: RetReg::Int1,
                    off: 8,
                    len: (size - 8) as u8,
                };
                return regs(parts, 2, None);
            }
            regs(parts, 1, ret_widen(ty))
        }
    }
}

/// The AAPCS64 classifier (see [`CallPlan::build`]).
pub fn classify_signature(
    args: &[Type],
    ret: &Type,
    nfixed: Option<usize>,
    plan: &mut CallPlan,
) -> Result<(), PlanError> {
    let moves = &mut plan.moves;
    let (mut ngrn, mut nsrn, mut nsaa) = (0u32, 0u32, 0u32);
    // By-reference arguments: (move index, size, alignment), their copies placed after the
    // stack arguments once those are counted.
    let mut copies: Vec<(usize, usize, usize)> = Vec::new();

    for (index, ty) in args.iter().enumerate() {
        check_arg(index, ty, nfixed.is_some_and(|n| index >= n))?;
        let arg = index as u16;
        let kind = ty.kind();
        let size = ty.size();
        let len = size as u32;
        let at = Some(index);
        // A stack slot of `bytes` (rounded up to 8) at an offset aligned to max(8, align).
        let mut stack_slot = |bytes: usize, align: usize| -> Result<u32, PlanError> {
            let start = frame_add(0, (nsaa as usize).next_multiple_of(align.max(8)), at)?;
            nsaa = frame_add(start, bytes.next_multiple_of(8), at)?;
            Ok(REG_BLOCK + start)
        };
        let step = |src: u32, op, dst, len| Move {
            arg,
            src: src as u16,
            op,
            dst,
            len,
        };
        if kind.is_float() {
            // C.1, C.4-C.6.
            let dst = if nsrn < MAX_V {
                nsrn += 1;
                v(nsrn - 1)
            } else {
                stack_slot(size, size)?
            };
            moves.push(step(0, MoveOp::Copy, dst, len));
            continue;
        }
        if let Some(h) = hfa(ty) {
            // C.2, else C.3-C.6.
            if nsrn + h.count <= MAX_V {
                for i in 0..h.count {
                    moves.push(step(i * h.size, MoveOp::Copy, v(nsrn + i), h.size));
                }
                nsrn += h.count;
            } else {
                nsrn = MAX_V;
                let dst = stack_slot(size, natural_align(ty))?;
                moves.push(step(0, MoveOp::Copy, dst, len));
            }
            continue;
        }
        let align = natural_align(ty);
        if kind == TypeKind::Pointer || (kind.is_integer() && size <= 8) {
            // C.7, else C.14-C.15.
            let dst = if ngrn < MAX_X {
                ngrn += 1;
                x(ngrn - 1)
            } else {
                stack_slot(8, 8)?
            };
            moves.push(step(0, scalar_op(kind, len), dst, len));
            continue;
        }
        if size > 16 {
            // B.4: a caller-made copy, its address passed as a pointer.
            let dst = if ngrn < MAX_X {
                ngrn += 1;
                x(ngrn - 1)
            } else {
                stack_slot(8, 8)?
            };
            copies.push((moves.len(), size, ty.align()));
            moves.push(step(0, MoveOp::Reference { copy: 0 }, dst, len));
            continue;
        }
        // `__int128` and composites of up to 16 bytes: C.8-C.13.
        if align == 16 {
            ngrn = ngrn.next_multiple_of(2);
        }
        let dwords = len.div_ceil(8);
        let dst = if ngrn + dwords <= MAX_X {
            ngrn += dwords;
            x(ngrn - dwords)
        } else {
            ngrn = MAX_X;
            stack_slot(size, align)?
        };
        // One copy into consecutive slots: the bytes past the value in the last register
        // are unspecified, as in the standard.
        moves.push(step(0, MoveOp::Copy, dst, len));
    }

    let stack_size = frame_add(0, (nsaa as usize).next_multiple_of(16), None)?;
    let mut end = frame_add(REG_BLOCK, stack_size as usize, None)?;
    for (i, size, align) in copies {
        let at = Some(usize::from(moves[i].arg));
        let copy = frame_add(0, (end as usize).next_multiple_of(align.max(16)), at)?;
        end = frame_add(copy, size, at)?;
        moves[i].op = MoveOp::Reference { copy };
    }
    let ret_scratch = frame_add(0, (end as usize).next_multiple_of(16), None)?;
    plan.finish(ret_plan(ret), ret, REG_BLOCK, stack_size, ret_scratch)
}

// The golden tables need aarch64's layouts, which 64-bit hosts share (8-byte pointers,
// 16-byte `long double`); on i686 a pointer is 4 bytes and `long double` 12.
#[cfg(all(test, target_pointer_width = "64"))]
mod tests;
