//! x86_64 Microsoft (Win64) classification into a [`CallPlan`], as gcc's `ms_abi` and
//! Rust's `extern "win64"` implement it.
//!
//! Host-independent: it reads only type layouts.
//!
//! Every argument takes one 8-byte slot. Values of 1, 2, 4 or 8 bytes travel in the slot
//! (the first four slots in rcx, rdx, r8, r9, or xmm0..xmm3 for `float` and `double`);
//! everything else (other struct sizes, `__int128`, `long double`, `double _Complex`)
//! travels as the address of a caller-owned copy. Results of 1, 2, 4 or 8 bytes come back in
//! rax (xmm0 for `float`/`double`), `__int128` in xmm0 (gcc), the rest through a hidden
//! pointer in the first slot.
//!
//! Frame layout of a call (and of a closure's register save area):
//!
//! ```text
//!  0x00  xmm0 .. xmm3     low eightbyte of the first four vector registers
//!  0x20  slot 0 .. 3      rcx rdx r8 r9: the callee's home area ([rsp + 8] after the call)
//!  0x40  slot 4 ..        stack arguments
//!  ....  copies           arguments passed by reference, 16-aligned; sret scratch
//! ```
//!
//! A `float`/`double` in the first four slots is stored both in its XMM eightbyte and in its
//! slot, so that variadic callees (which read the integer register) see it too.

use crate::dynamic::plan::{
    check_arg, frame_add, ret_widen, scalar_op, CallPlan, Move, MoveOp, PlanError, RetPlan, RetReg,
};
use crate::dynamic::types::{Type, TypeKind};

/// Frame offset of the XMM eightbytes.
pub const XMM_BLOCK: u32 = 0;
/// Bytes of the register part of the frame; slot 0 starts here.
pub const REG_BLOCK: u32 = 4 * 8;
/// Register slots.
pub const REG_SLOTS: u32 = 4;

/// Whether a value of this type travels in its slot (else by reference).
pub fn by_value(ty: &Type) -> bool {
    matches!(ty.size(), 1 | 2 | 4 | 8)
        && !matches!(
            ty.kind(),
            TypeKind::U128 | TypeKind::I128 | TypeKind::LongDouble
        )
}

/// Classifies a signature for Win64 (see [`CallPlan::build`]).
///
/// # Errors
/// A [`PlanError`] naming the argument (or the return) that cannot be passed by value.
pub fn plan(args: &[Type], ret: &Type, nfixed: Option<usize>) -> Result<CallPlan, PlanError> {
    CallPlan::build(classify_signature, args, ret, nfixed)
}

/// The Win64 classifier (see [`CallPlan::build`]).
pub fn classify_signature(
    args: &[Type],
    ret: &Type,
    nfixed: Option<usize>,
    plan: &mut CallPlan,
) -> Result<(), PlanError> {
    let kind = ret.kind();
    let (ret_plan, first_slot) = match kind {
        TypeKind::Void => (RetPlan::Void, 0),
        TypeKind::F32 | TypeKind::F64 => (regs(RetReg::Vec0, ret.size(), None), 0),
        TypeKind::U128 | TypeKind::I128 => (regs(RetReg::Vec0, 16, None), 0),
        _ if by_value(ret) => (regs(RetReg::Int0, ret.size(), ret_widen(ret)), 0),
        _ => (RetPlan::Indirect { dst: REG_BLOCK }, 1),
    };

    let nslots = (args.len() + first_slot).max(REG_SLOTS as usize);
    let stack_size = frame_add(0, (8 * nslots).next_multiple_of(16), None)?;
    let mut copies = frame_add(REG_BLOCK, stack_size as usize, None)?;
    let moves = &mut plan.moves;
    for (index, ty) in args.iter().enumerate() {
        check_arg(index, ty, nfixed.is_some_and(|n| index >= n))?;
        let arg = index as u16;
        let slot = (index + first_slot) as u32;
        let dst = REG_BLOCK + 8 * slot;
        let len = ty.size() as u32;
        if !by_value(ty) {
            copies = copies.next_multiple_of(16);
            moves.push(Move {
                arg,
                op: MoveOp::Reference { copy: copies },
                src: 0,
                dst,
                len,
            });
            copies = frame_add(copies, ty.size(), Some(index))?;
            continue;
        }
        if ty.kind().is_float() && slot < REG_SLOTS {
            let xmm = XMM_BLOCK + 8 * slot;
            moves.push(Move {
                arg,
                op: MoveOp::ZeroExtend,
                src: 0,
                dst: xmm,
                len,
            });
        }
        moves.push(Move {
            arg,
            op: scalar_op(ty.kind(), len),
            src: 0,
            dst,
            len,
        });
    }
    let ret_scratch = frame_add(0, (copies as usize).next_multiple_of(16), None)?;
    plan.finish(ret_plan, ret, REG_BLOCK, stack_size, ret_scratch)
}

fn regs(reg: RetReg, len: usize, widen: Option<bool>) -> RetPlan {
    RetPlan::regs(&[(reg, 0, len as u8)], widen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamic::plan::ArgSource;

    fn st(members: &[Type]) -> Type {
        Type::structure(members.iter().cloned()).unwrap()
    }

    #[test]
    fn slots_are_positional() {
        let plan = plan(
            &[Type::I32, Type::F64, Type::I8, Type::F32, Type::F64],
            &Type::VOID,
            None,
        )
        .unwrap();
        assert_eq!(
            plan.moves_of(0),
            &[Move {
                arg: 0,
                op: MoveOp::SignExtend,
                src: 0,
                dst: 32,
                len: 4
            }]
        );
        assert_eq!(
            plan.moves_of(1),
            &[
                Move {
                    arg: 1,
                    op: MoveOp::ZeroExtend,
                    src: 0,
                    dst: 8,
                    len: 8
                },
                Move {
                    arg: 1,
                    op: MoveOp::ZeroExtend,
                    src: 0,
                    dst: 40,
                    len: 8
                },
            ]
        );
        assert_eq!(
            plan.arg_sources([4, 8, 1, 4, 8].into_iter()).0[1],
            ArgSource::Direct(8)
        );
        assert_eq!(
            plan.moves_of(4),
            &[Move {
                arg: 4,
                op: MoveOp::ZeroExtend,
                src: 0,
                dst: 64,
                len: 8
            }]
        );
        assert_eq!(plan.stack_size, 48);
    }

    #[test]
    fn odd_sizes_go_by_reference() {
        let s3 = st(&[Type::U8, Type::U8, Type::U8]);
        let s8 = st(&[Type::F32, Type::F32]);
        let s16 = st(&[Type::F64, Type::F64]);
        let plan = plan(
            &[s3, s8, s16, Type::LONG_DOUBLE, Type::I128],
            &Type::VOID,
            None,
        )
        .unwrap();
        assert_eq!(plan.moves_of(0)[0].op, MoveOp::Reference { copy: 80 });
        assert_eq!(
            plan.moves_of(1),
            &[Move {
                arg: 1,
                op: MoveOp::ZeroExtend,
                src: 0,
                dst: 40,
                len: 8
            }]
        );
        assert_eq!(plan.moves_of(2)[0].op, MoveOp::Reference { copy: 96 });
        assert_eq!(plan.moves_of(3)[0].op, MoveOp::Reference { copy: 112 });
        assert_eq!(plan.moves_of(4)[0].op, MoveOp::Reference { copy: 128 });
        assert_eq!(
            plan.arg_sources([3, 8, 16, 16, 16].into_iter()).0[2],
            ArgSource::Reference(48)
        );
        assert_eq!(plan.frame_size, 144);
    }

    #[test]
    fn returns() {
        let p = plan(&[Type::I32], &st(&[Type::I32, Type::I32, Type::I32]), None).unwrap();
        assert_eq!(p.ret, RetPlan::Indirect { dst: 32 });
        assert_eq!(p.moves_of(0)[0].dst, 40, "sret takes the first slot");
        assert_eq!(
            plan(&[], &st(&[Type::F32]), None).unwrap().ret,
            regs(RetReg::Int0, 4, None)
        );
        assert_eq!(
            plan(&[], &Type::F32, None).unwrap().ret,
            regs(RetReg::Vec0, 4, None)
        );
        assert_eq!(
            plan(&[], &Type::U16, None).unwrap().ret,
            regs(RetReg::Int0, 2, Some(false))
        );
        assert_eq!(
            plan(&[], &Type::I128, None).unwrap().ret,
            regs(RetReg::Vec0, 16, None)
        );
        assert!(matches!(
            plan(&[], &Type::LONG_DOUBLE, None).unwrap().ret,
            RetPlan::Indirect { .. }
        ));
    }
}
