//! What every classifier's plan must satisfy, whatever the ABI (used by `types_cif` and
//! `classify`).

use closure_ffi::dynamic::plan::{CallPlan, Move, MoveOp, RetPlan};
use closure_ffi::dynamic::{Type, TypeKind};

use crate::types::scalar_ranges;

/// Arguments and return values whose every scalar byte is checked (the walk visits every
/// array element).
pub const CHECKED_VALUE: usize = 4096;
/// Arguments whose bytes are checked.
pub const CHECKED_ARGS: usize = 64;

/// Checks a plan for `args` and `ret` against the frame contract of `src/dynamic/plan.rs`,
/// for an ABI with `slot`-byte stack slots and pointers (8 or 4): every move reads inside its
/// argument and writes inside the frame (registers and stack arguments, or the by-reference
/// copies past them), no two writes overlap (checked when `small`), every argument has a
/// move and every scalar byte of the first arguments and of the return value is moved (of a
/// `long double`, the `long_double` significant bytes: see [`scalar_ranges`]).
pub fn check_plan_shape(
    plan: &CallPlan,
    args: &[Type],
    ret: &Type,
    slot: u64,
    long_double: usize,
    small: bool,
) {
    assert_eq!(
        u64::from(plan.stack_size) % slot,
        0,
        "stack size {}",
        plan.stack_size
    );
    assert!(
        u64::from(plan.callee_pop) <= u64::from(plan.stack_size) + slot,
        "callee pop"
    );
    let stack_end = u64::from(plan.reg_block) + u64::from(plan.stack_size);
    let frame = u64::from(plan.frame_size);
    assert!(stack_end <= frame, "stack arguments past the frame");
    assert!(u64::from(plan.ret_scratch) <= frame);

    // Frame bytes written, to check that no two writes overlap.
    // (start, len, what: a move index, or RET_POINTER / RET_SCRATCH; copies are marked
    // with COPY).
    const COPY: usize = 1 << 40;
    const RET_POINTER: usize = 1 << 41;
    const RET_SCRATCH: usize = 1 << 42;
    let mut writes: Vec<(u64, u64, usize)> = Vec::new();
    let mut last_arg = 0u16;
    for (i, m) in plan.moves.iter().enumerate() {
        assert!(m.arg >= last_arg, "moves not in argument order");
        last_arg = m.arg;
        let arg = usize::from(m.arg);
        assert!(arg < args.len(), "move of argument {arg} of {}", args.len());
        let size = args[arg].size() as u64;
        let (src, len, dst) = (u64::from(m.src), u64::from(m.len), u64::from(m.dst));
        assert!(
            len >= 1 && src + len <= size,
            "move {m:?} reads outside argument {arg} ({size} bytes)"
        );
        match m.op {
            MoveOp::ZeroExtend | MoveOp::SignExtend => {
                assert!(len <= slot, "{m:?}");
                assert!(dst + slot <= stack_end, "{m:?} past the stack arguments");
                writes.push((dst, slot, i));
            }
            MoveOp::Copy => {
                assert!(dst + len <= stack_end, "{m:?} past the stack arguments");
                writes.push((dst, len, i));
            }
            MoveOp::Reference { copy } => {
                let copy = u64::from(copy);
                assert_eq!((src, len), (0, size), "{m:?}: partial reference");
                assert!(dst + slot <= stack_end, "{m:?}");
                assert!(
                    copy >= stack_end && copy + len <= frame,
                    "{m:?}: copy outside the frame"
                );
                assert_eq!(copy % 16, 0, "{m:?}: copy misaligned");
                writes.push((dst, slot, i));
                writes.push((copy, len, COPY | i));
            }
        }
    }
    match plan.ret {
        RetPlan::Void => assert_eq!(ret.kind(), TypeKind::Void),
        RetPlan::Regs {
            parts,
            count,
            widen,
        } => {
            assert!((1..=4).contains(&count));
            for p in &parts[..usize::from(count)] {
                assert!(
                    p.len >= 1 && usize::from(p.off) + usize::from(p.len) <= ret.size(),
                    "{p:?} of {ret:?}"
                );
            }
            if widen.is_some() {
                // Integers narrower than a 64-bit `ffi_arg` (on i386 a 4-byte one is
                // "widened" to itself).
                assert!(
                    ret.size() < 8 && ret.size() as u64 <= slot,
                    "widened {ret:?}"
                );
            }
        }
        RetPlan::Indirect { dst } => {
            let dst = u64::from(dst);
            assert!(dst + slot <= stack_end);
            writes.push((dst, slot, RET_POINTER));
            assert!(
                u64::from(plan.ret_scratch) + ret.size() as u64 <= frame,
                "return scratch"
            );
            writes.push((u64::from(plan.ret_scratch), ret.size() as u64, RET_SCRATCH));
        }
        RetPlan::X87 { count } => {
            assert_eq!(ret.size(), 16 * usize::from(count), "x87 return of {ret:?}");
        }
    }
    if small {
        writes.sort_unstable();
        for w in writes.windows(2) {
            assert!(
                w[0].0 + w[0].1 <= w[1].0,
                "frame writes {:#x} and {:#x} overlap (move index, | {COPY:#x} for a copy, \
                 {RET_POINTER:#x} return pointer, {RET_SCRATCH:#x} return scratch): {plan:?}",
                w[0].2,
                w[1].2,
            );
        }
    }

    // The moves of each argument, in one pass (`moves_of` scans from the start).
    let mut by_arg: Vec<&[Move]> = Vec::with_capacity(args.len());
    let mut start = 0;
    for i in 0..args.len() {
        let n = plan.moves[start..]
            .iter()
            .take_while(|m| usize::from(m.arg) == i)
            .count();
        by_arg.push(&plan.moves[start..start + n]);
        start += n;
    }
    assert_eq!(start, plan.moves.len());
    for (i, ty) in args.iter().enumerate() {
        let moves = by_arg[i];
        if i < 32 {
            assert_eq!(plan.moves_of(i), moves);
        }
        assert!(!moves.is_empty(), "argument {i} has no move");
        if i < CHECKED_ARGS && ty.size() <= CHECKED_VALUE {
            for (off, len) in scalar_ranges(ty, long_double) {
                for b in off..off + len {
                    assert!(
                        moves.iter().any(|m| (usize::from(m.src)
                            ..usize::from(m.src) + m.len as usize)
                            .contains(&b)
                            || matches!(m.op, MoveOp::Reference { .. })),
                        "byte {b} of argument {i} ({ty:?}) is not moved: {moves:?}"
                    );
                }
            }
        }
    }
    if let RetPlan::Regs { parts, count, .. } = plan.ret {
        if ret.size() <= CHECKED_VALUE {
            for (off, len) in scalar_ranges(ret, long_double) {
                for b in off..off + len {
                    assert!(
                        parts[..usize::from(count)]
                            .iter()
                            .any(
                                |p| (usize::from(p.off)..usize::from(p.off) + usize::from(p.len))
                                    .contains(&b)
                            ),
                        "byte {b} of the return value ({ret:?}) is not returned: {:?}",
                        plan.ret
                    );
                }
            }
        }
    }
}
