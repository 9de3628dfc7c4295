//! x86_64 System V classification (psABI §3.2.3) into a [`CallPlan`].
//!
//! Host-independent: it reads only type layouts, so its tables are tested on any host.
//!
//! Frame layout of a call (and of a closure's register save area):
//!
//! ```text
//!  0x00  rdi rsi rdx rcx r8 r9        six integer registers, 8 bytes each
//!  0x30  xmm0 .. xmm7                 low eightbyte of each vector register
//!  0x70  stack arguments              (the callee's [rsp + 8] after the call)
//! ```

use crate::dynamic::plan::{
    check_arg, frame_add, ret_widen, scalar_op, CallPlan, Move, MoveOp, PlanError, RetPart,
    RetPlan, RetReg,
};
use crate::dynamic::types::{Type, TypeKind};

/// Frame offset of the first integer argument register.
pub const GPR_BLOCK: u32 = 0;
/// Frame offset of the first vector argument register.
pub const SSE_BLOCK: u32 = 6 * 8;
/// Bytes of the register part of the frame.
pub const REG_BLOCK: u32 = SSE_BLOCK + 8 * 8;
/// Integer argument registers.
pub const MAX_GPR: u32 = 6;
/// Vector argument registers.
pub const MAX_SSE: u32 = 8;

/// The psABI's classes of an eightbyte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Padding only.
    NoClass,
    /// General-purpose register.
    Integer,
    /// Vector register.
    Sse,
    /// The low 8 bytes of an x87 value.
    X87,
    /// The high bytes of an x87 value.
    X87Up,
    /// `long double _Complex`.
    ComplexX87,
    /// Passed in memory.
    Memory,
}

/// The classification of a value: its eightbytes' classes, or memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classes {
    /// The eightbyte classes; `classes[..count]` are meaningful.
    pub classes: [Class; 2],
    /// Number of eightbytes (0 for memory and the x87 forms, which have no register parts).
    pub count: usize,
}

impl Classes {
    const MEMORY: Self = Self {
        classes: [Class::Memory, Class::NoClass],
        count: 0,
    };

    /// Whether the value is passed in memory.
    pub fn is_memory(&self) -> bool {
        self.classes[0] == Class::Memory
    }

    fn needs(&self) -> (u32, u32) {
        let used = &self.classes[..self.count];
        let gpr = used.iter().filter(|&&c| c == Class::Integer).count() as u32;
        let sse = used.iter().filter(|&&c| c == Class::Sse).count() as u32;
        (gpr, sse)
    }

    fn is_x87(&self) -> bool {
        matches!(self.classes[0], Class::X87 | Class::ComplexX87)
    }
}

/// The psABI's merge of two classes meeting in one eightbyte.
fn merge(a: Class, b: Class) -> Class {
    use Class::*;
    match (a, b) {
        _ if a == b => a,
        (NoClass, other) | (other, NoClass) => other,
        (Memory, _) | (_, Memory) => Memory,
        (Integer, _) | (_, Integer) => Integer,
        (X87 | X87Up | ComplexX87, _) | (_, X87 | X87Up | ComplexX87) => Memory,
        _ => Sse,
    }
}

/// Classifies a value of type `ty` (argument or return; the caller decides what the x87
/// classes mean).
pub fn classify(ty: &Type) -> Classes {
    let one = |class| Classes {
        classes: [class, Class::NoClass],
        count: 1,
    };
    match ty.kind() {
        TypeKind::F32 | TypeKind::F64 => return one(Class::Sse),
        TypeKind::LongDouble => {
            return Classes {
                classes: [Class::X87, Class::X87Up],
                count: 0,
            }
        }
        TypeKind::U128 | TypeKind::I128 => {
            return Classes {
                classes: [Class::Integer, Class::Integer],
                count: 2,
            }
        }
        TypeKind::Void => {
            return Classes {
                classes: [Class::NoClass; 2],
                count: 0,
            }
        }
        kind if !kind.is_aggregate() => return one(Class::Integer),
        _ => {}
    }
    if ty.kind() == TypeKind::Complex
        && ty
            .element()
            .is_some_and(|e| e.kind() == TypeKind::LongDouble)
    {
        return Classes {
            classes: [Class::ComplexX87, Class::NoClass],
            count: 0,
        };
    }
    let size = ty.size();
    if size > 16 {
        return Classes::MEMORY;
    }
    let mut words = [Class::NoClass; 3];
    if !classify_aggregate(ty, 0, &mut words) || !post_merge(&words) {
        return Classes::MEMORY;
    }
    let classes = [words[0], words[1]];
    if classes[0] == Class::X87 {
        return Classes { classes, count: 0 };
    }
    Classes {
        classes,
        count: size.div_ceil(8),
    }
}

/// Classifies the members of an aggregate that starts `base` bytes (0..8) into its first
/// eightbyte into `words`, as gcc does: member by member in declaration order, each nested
/// aggregate classified on its own first (with the post-merge rules applied to it) and then
/// merged into its position. Returns `false` if the aggregate goes to memory.
///
/// The nesting matters: the merge rules are not associative once x87 classes take part
/// (`X87Up` merged with `Sse` is `Memory`, with `Integer` it is `Integer`), so a flat merge
/// of all scalars would disagree with gcc for unions holding a `long double`.
fn classify_aggregate(ty: &Type, base: usize, words: &mut [Class; 3]) -> bool {
    let member = |m: &Type, off: usize, words: &mut [Class; 3]| -> bool {
        let at = base + off;
        if m.kind().is_aggregate() {
            let mut sub = [Class::NoClass; 3];
            if !classify_aggregate(m, at % 8, &mut sub) || !post_merge(&sub) {
                return false;
            }
            for (i, class) in sub.iter().enumerate() {
                if let Some(word) = words.get_mut(at / 8 + i) {
                    *word = merge(*word, *class);
                }
            }
            return true;
        }
        if at % m.align() != 0 {
            return false; // a misaligned scalar (never produced by our layouts)
        }
        let (lo, hi) = match m.kind() {
            TypeKind::F32 | TypeKind::F64 => (Class::Sse, None),
            TypeKind::LongDouble => (Class::X87, Some(Class::X87Up)),
            TypeKind::U128 | TypeKind::I128 => (Class::Integer, Some(Class::Integer)),
            _ => (Class::Integer, None),
        };
        if let Some(word) = words.get_mut(at / 8) {
            *word = merge(*word, lo);
        }
        if let (Some(hi), Some(word)) = (hi, words.get_mut(at / 8 + 1)) {
            *word = merge(*word, hi);
        }
        true
    };
    match ty.kind() {
        TypeKind::Struct | TypeKind::Union => ty
            .members()
            .iter()
            .zip(ty.offsets())
            .all(|(m, &off)| member(m, off, words)),
        _ => {
            let Some(element) = ty.element() else {
                return false;
            };
            (0..ty.len()).all(|i| member(element, i * element.size(), words))
        }
    }
}

/// The psABI's post-merge rules that send a (nested) aggregate to memory: a `Memory`
/// eightbyte, or an `X87Up` that does not follow `X87`.
fn post_merge(words: &[Class; 3]) -> bool {
    if words.contains(&Class::Memory) || words[0] == Class::X87Up {
        return false;
    }
    words
        .windows(2)
        .all(|w| w[1] != Class::X87Up || w[0] == Class::X87)
}

/// Classifies a signature for System V (see [`CallPlan::build`]).
///
/// # Errors
/// A [`PlanError`] naming the argument (or the return) that cannot be passed by value.
pub fn plan(args: &[Type], ret: &Type, nfixed: Option<usize>) -> Result<CallPlan, PlanError> {
    CallPlan::build(classify_signature, args, ret, nfixed)
}

/// The System V classifier (see [`CallPlan::build`]).
pub fn classify_signature(
    args: &[Type],
    ret: &Type,
    nfixed: Option<usize>,
    plan: &mut CallPlan,
) -> Result<(), PlanError> {
    let moves = &mut plan.moves;
    let mut gpr = 0u32;
    let mut sse = 0u32;
    let mut stack = 0u32;

    let ret_plan = if ret.kind() == TypeKind::Void {
        RetPlan::Void
    } else {
        let classes = classify(ret);
        if classes.is_memory() {
            gpr = 1;
            RetPlan::Indirect { dst: GPR_BLOCK }
        } else if classes.classes[0] == Class::ComplexX87 {
            RetPlan::X87 { count: 2 }
        } else if classes.classes[0] == Class::X87 {
            RetPlan::X87 { count: 1 }
        } else {
            let mut parts = [RetPart::default(); 4];
            let mut count = 0;
            let (mut ints, mut vecs) = (0, 0);
            for (i, class) in classes.classes[..classes.count].iter().enumerate() {
                let reg = match class {
                    Class::Integer => {
                        ints += 1;
                        if ints == 1 {
                            RetReg::Int0
                        } else {
                            RetReg::Int1
                        }
                    }
                    Class::Sse => {
                        vecs += 1;
                        if vecs == 1 {
                            RetReg::Vec0
                        } else {
                            RetReg::Vec1
                        }
                    }
                    _ => continue,
                };
                let len = (ret.size() - 8 * i).min(8) as u8;
                parts[count] = RetPart {
                    reg,
                    off: 8 * i as u8,
                    len,
                };
                count += 1;
            }
            RetPlan::Regs {
                parts,
                count: count as u8,
                widen: ret_widen(ret),
            }
        }
    };

    for (index, ty) in args.iter().enumerate() {
        let arg = index as u16;
        // The common case first: a scalar that takes one register of its class.
        let kind = ty.kind();
        let fixed = nfixed.is_none_or(|n| index < n);
        let scalar_int = matches!(kind, TypeKind::Pointer | TypeKind::U64 | TypeKind::I64)
            || (fixed
                && matches!(
                    kind,
                    TypeKind::U8 | TypeKind::I8 | TypeKind::U16 | TypeKind::I16
                ))
            || matches!(kind, TypeKind::U32 | TypeKind::I32);
        if scalar_int && gpr < MAX_GPR {
            let len = ty.size() as u32;
            let dst = GPR_BLOCK + 8 * gpr;
            gpr += 1;
            moves.push(Move {
                arg,
                src: 0,
                op: scalar_op(kind, len),
                dst,
                len,
            });
            continue;
        }
        if (kind == TypeKind::F64 || (fixed && kind == TypeKind::F32)) && sse < MAX_SSE {
            let dst = SSE_BLOCK + 8 * sse;
            sse += 1;
            let len = ty.size() as u32;
            moves.push(Move {
                arg,
                src: 0,
                op: MoveOp::ZeroExtend,
                dst,
                len,
            });
            continue;
        }
        check_arg(index, ty, !fixed)?;
        let classes = classify(ty);
        let (need_gpr, need_sse) = classes.needs();
        let in_regs = !classes.is_memory()
            && !classes.is_x87()
            && gpr + need_gpr <= MAX_GPR
            && sse + need_sse <= MAX_SSE;
        if in_regs {
            for (i, class) in classes.classes[..classes.count].iter().enumerate() {
                let len = (ty.size() - 8 * i).min(8) as u32;
                let src = 8 * i as u16;
                let (op, dst) = match class {
                    Class::Integer => {
                        gpr += 1;
                        (scalar_op(ty.kind(), len), GPR_BLOCK + 8 * (gpr - 1))
                    }
                    Class::Sse => {
                        sse += 1;
                        (MoveOp::ZeroExtend, SSE_BLOCK + 8 * (sse - 1))
                    }
                    _ => continue,
                };
                moves.push(Move {
                    arg,
                    op,
                    src,
                    dst,
                    len,
                });
            }
        } else {
            let align = if ty.align() >= 16 { 16 } else { 8 };
            stack = stack.next_multiple_of(align);
            let dst = frame_add(REG_BLOCK, stack as usize, Some(index))?;
            moves.push(Move {
                arg,
                op: MoveOp::Copy,
                src: 0,
                dst,
                len: ty.size() as u32,
            });
            stack = frame_add(stack, ty.size().next_multiple_of(8), Some(index))?;
        }
    }

    let stack_size = stack.next_multiple_of(16);
    let ret_scratch = frame_add(REG_BLOCK, stack_size as usize, None)?;
    plan.finish(ret_plan, ret, REG_BLOCK, stack_size, ret_scratch)
}

// The golden tables assume the x86_64 data model (8-byte pointers, 8-aligned double,
// 16-byte long double), which these ABIs only meet on x86_64 hosts.
#[cfg(all(test, target_pointer_width = "64"))]
mod tests {
    use super::*;
    use crate::dynamic::plan::{ArgSource, ValueTypeError};
    use Class::*;

    fn st(members: &[Type]) -> Type {
        Type::structure(members.iter().cloned()).unwrap()
    }

    fn classes(ty: &Type) -> (Vec<Class>, bool) {
        let c = classify(ty);
        (c.classes[..c.count].to_vec(), c.is_memory())
    }

    #[test]
    fn classification_table() {
        let ld = Type::LONG_DOUBLE;
        let cases: Vec<(Type, Vec<Class>, bool)> = vec![
            (Type::I32, vec![Integer], false),
            (Type::F64, vec![Sse], false),
            (Type::I128, vec![Integer, Integer], false),
            (st(&[Type::F32, Type::F32]), vec![Sse], false),
            (st(&[Type::F32, Type::I32]), vec![Integer], false),
            (st(&[Type::F64, Type::I32]), vec![Sse, Integer], false),
            (st(&[Type::I64, Type::F64]), vec![Integer, Sse], false),
            (
                st(&[Type::F32, Type::F32, Type::F32]),
                vec![Sse, Sse],
                false,
            ),
            (st(&[Type::U8, Type::U8, Type::U8]), vec![Integer], false),
            (st(&[Type::F64, Type::F64]), vec![Sse, Sse], false),
            (st(&[Type::F64, Type::F64, Type::F64]), vec![], true),
            (
                st(&[Type::F64, Type::I32, Type::F32, Type::U8]),
                vec![],
                true,
            ),
            (
                Type::union([Type::F32, Type::I32]).unwrap(),
                vec![Integer],
                false,
            ),
            (
                Type::union([Type::F64, Type::F32]).unwrap(),
                vec![Sse],
                false,
            ),
            (
                st(&[Type::array(Type::F32, 4).unwrap()]),
                vec![Sse, Sse],
                false,
            ),
            (
                st(&[Type::U8, Type::array(Type::U8, 9).unwrap()]),
                vec![Integer, Integer],
                false,
            ),
            (Type::complex_f32(), vec![Sse], false),
            (Type::complex_f64(), vec![Sse, Sse], false),
            (Type::union([ld.clone(), Type::I32]).unwrap(), vec![], true),
        ];
        for (ty, expect, memory) in cases {
            assert_eq!(classes(&ty), (expect, memory), "{ty:?}");
        }
        // Nested aggregates are classified on their own first, as gcc does (the merge is not
        // associative with x87 classes): found by the randomized conformance test.
        let inner = Type::union([ld.clone(), Type::I32]).unwrap();
        let outer = Type::union([inner, Type::array(Type::U64, 2).unwrap()]).unwrap();
        assert_eq!(classes(&outer), (vec![], true), "gcc: memory");
        let pair = Type::union([
            Type::array(Type::F64, 2).unwrap(),
            Type::array(Type::U64, 2).unwrap(),
        ])
        .unwrap();
        let outer = Type::union([ld.clone(), Type::I32, pair]).unwrap();
        assert_eq!(
            classes(&outer),
            (vec![Integer, Integer], false),
            "gcc: rsi, rdx"
        );
        assert_eq!(classify(&ld).classes, [X87, X87Up]);
        assert_eq!(
            classify(&st(core::slice::from_ref(&ld))).classes,
            [X87, X87Up]
        );
        assert_eq!(
            classify(&Type::complex_long_double()).classes[0],
            ComplexX87
        );
    }

    #[test]
    fn registers_run_out_per_class() {
        // Seven i64: the seventh goes on the stack. Nine doubles: the ninth too.
        let mut args = vec![Type::I64; 7];
        args.extend(vec![Type::F64; 9]);
        let plan = plan(&args, &Type::VOID, None).unwrap();
        assert_eq!(plan.moves_of(5)[0].dst, 5 * 8);
        assert_eq!(
            plan.moves_of(6)[0],
            Move {
                arg: 6,
                op: MoveOp::Copy,
                src: 0,
                dst: REG_BLOCK,
                len: 8
            }
        );
        assert_eq!(plan.moves_of(14)[0].dst, SSE_BLOCK + 7 * 8);
        assert_eq!(plan.moves_of(15)[0].dst, REG_BLOCK + 8);
        assert_eq!(plan.stack_size, 16);
    }

    #[test]
    fn a_struct_needing_two_gprs_goes_whole_to_the_stack_when_one_is_left() {
        let pair = st(&[Type::I64, Type::I64]);
        let mut args = vec![Type::I32; 5];
        args.push(pair);
        args.push(Type::I32);
        let plan = plan(&args, &Type::VOID, None).unwrap();
        assert_eq!(
            plan.moves_of(5),
            &[Move {
                arg: 5,
                op: MoveOp::Copy,
                src: 0,
                dst: REG_BLOCK,
                len: 16
            }]
        );
        // ... and the next int still takes the sixth register.
        assert_eq!(plan.moves_of(6)[0].dst, 5 * 8);
    }

    #[test]
    fn mixed_struct_is_split_and_assembled_by_closures() {
        let s = st(&[Type::F64, Type::I32]);
        let plan = plan(&[Type::I32, s], &Type::VOID, None).unwrap();
        assert_eq!(
            plan.moves_of(1),
            &[
                Move {
                    arg: 1,
                    op: MoveOp::ZeroExtend,
                    src: 0,
                    dst: SSE_BLOCK,
                    len: 8
                },
                Move {
                    arg: 1,
                    op: MoveOp::ZeroExtend,
                    src: 8,
                    dst: 8,
                    len: 8
                },
            ]
        );
        assert_eq!(
            plan.arg_sources([4, 16].into_iter()).0[1],
            ArgSource::Assembled {
                at: 0,
                start: 1,
                end: 3
            }
        );
        assert_eq!(plan.moves_of(0)[0].op, MoveOp::SignExtend);
    }

    #[test]
    fn long_double_and_int128_on_the_stack_are_16_aligned() {
        let plan = plan(
            &[Type::LONG_DOUBLE, Type::I32, Type::LONG_DOUBLE],
            &Type::VOID,
            None,
        )
        .unwrap();
        assert_eq!(plan.moves_of(0)[0].dst, REG_BLOCK);
        assert_eq!(plan.moves_of(2)[0].dst, REG_BLOCK + 16);
        let mut args = vec![Type::I64; 5];
        args.extend([Type::I128, Type::I64, Type::I128]);
        let plan = super::plan(&args, &Type::VOID, None).unwrap();
        assert_eq!(plan.moves_of(5)[0].dst, REG_BLOCK);
        assert_eq!(plan.moves_of(6)[0].dst, 5 * 8);
        assert_eq!(plan.moves_of(7)[0].dst, REG_BLOCK + 16);
    }

    #[test]
    fn returns() {
        let ret = |t: &Type| plan(&[], t, None).unwrap().ret;
        let part = |reg, off, len| RetPart { reg, off, len };
        assert_eq!(ret(&Type::VOID), RetPlan::Void);
        match ret(&Type::I8) {
            RetPlan::Regs {
                parts,
                count: 1,
                widen: Some(true),
            } => assert_eq!(parts[0], part(RetReg::Int0, 0, 1)),
            other => panic!("{other:?}"),
        }
        match ret(&st(&[Type::F64, Type::I32])) {
            RetPlan::Regs {
                parts,
                count: 2,
                widen: None,
            } => {
                assert_eq!(
                    parts[..2],
                    [part(RetReg::Vec0, 0, 8), part(RetReg::Int0, 8, 8)]
                )
            }
            other => panic!("{other:?}"),
        }
        match ret(&st(&[Type::F32, Type::F32, Type::F32])) {
            RetPlan::Regs {
                parts, count: 2, ..
            } => {
                assert_eq!(
                    parts[..2],
                    [part(RetReg::Vec0, 0, 8), part(RetReg::Vec1, 8, 4)]
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(ret(&Type::LONG_DOUBLE), RetPlan::X87 { count: 1 });
        assert_eq!(ret(&Type::complex_long_double()), RetPlan::X87 { count: 2 });
        let big = st(&[Type::F64, Type::I32, Type::F32, Type::U8]);
        let p = plan(&[Type::I64], &big, None).unwrap();
        assert_eq!(p.ret, RetPlan::Indirect { dst: 0 });
        assert_eq!(p.moves_of(0)[0].dst, 8, "sret takes rdi");
        assert_eq!(p.frame_size, REG_BLOCK + 32);
    }

    #[test]
    fn bad_values_are_refused() {
        let err = |args: &[Type], ret: &Type, nfixed| plan(args, ret, nfixed).unwrap_err();
        assert_eq!(
            err(&[Type::VOID], &Type::VOID, None).reason,
            ValueTypeError::Void
        );
        let arr = Type::array(Type::I32, 2).unwrap();
        assert_eq!(
            err(&[Type::I32, arr.clone()], &Type::VOID, None).arg,
            Some(1)
        );
        assert_eq!(err(&[], &arr, None).arg, None);
        let over = st(&[Type::I32]).aligned(32).unwrap();
        assert_eq!(
            err(&[over], &Type::VOID, None).reason,
            ValueTypeError::OverAligned
        );
        let e = err(&[Type::POINTER, Type::F32], &Type::I32, Some(1));
        assert_eq!((e.arg, e.reason), (Some(1), ValueTypeError::NotPromoted));
        assert!(plan(&[Type::F32, Type::F64], &Type::I32, Some(1)).is_ok());
    }
}
