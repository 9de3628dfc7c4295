//! Golden tests of the AAPCS64 classifier. The expected registers and stack offsets are
//! what `aarch64-linux-gnu-gcc -O2 -S` (gcc 12.2) emits for the C quoted in each test
//! (callee offsets are from the callee's sp at entry, i.e. frame offset `REG_BLOCK + n`).

use super::*;
use crate::dynamic::plan::{ArgSource, ValueTypeError};

fn st(members: &[Type]) -> Type {
    Type::structure(members.iter().cloned()).unwrap()
}

const S: u32 = REG_BLOCK;

/// `(src, op, dst, len)` of every move of argument `i`.
fn moves(plan: &CallPlan, i: usize) -> Vec<(u16, MoveOp, u32, u32)> {
    plan.moves_of(i)
        .iter()
        .map(|m| (m.src, m.op, m.dst, m.len))
        .collect()
}

/// The destination of each argument's first move.
fn dsts(args: &[Type]) -> Vec<u32> {
    let plan = plan(args, &Type::VOID, None).unwrap();
    (0..args.len()).map(|i| plan.moves_of(i)[0].dst).collect()
}

#[test]
fn scalars_take_x_and_v_registers_in_their_own_sequences() {
    // int narrow(signed char c, unsigned short s): w0, w1 (the callee re-extends: `add w0,
    // w1, w0, sxtb` after `and w1, w1, 65535`); we widen anyway.
    let args = [
        Type::I8,
        Type::F32,
        Type::U16,
        Type::F64,
        Type::POINTER,
        Type::LONG_DOUBLE,
        Type::I64,
    ];
    let p = plan(&args, &Type::VOID, None).unwrap();
    assert_eq!(moves(&p, 0), [(0, MoveOp::SignExtend, x(0), 1)]);
    assert_eq!(moves(&p, 1), [(0, MoveOp::Copy, v(0), 4)]);
    assert_eq!(moves(&p, 2), [(0, MoveOp::ZeroExtend, x(1), 2)]);
    assert_eq!(moves(&p, 3), [(0, MoveOp::Copy, v(1), 8)]);
    assert_eq!(moves(&p, 4), [(0, MoveOp::ZeroExtend, x(2), 8)]);
    assert_eq!(moves(&p, 5), [(0, MoveOp::Copy, v(2), 16)]);
    assert_eq!(moves(&p, 6), [(0, MoveOp::ZeroExtend, x(3), 8)]);
    assert_eq!((p.stack_size, p.reg_block), (0, REG_BLOCK));
}

#[test]
fn floats_past_v7_take_8_byte_slots_and_long_double_16_aligned() {
    // float stack_float(double a0..a7, float f, long double l): f at [sp], l at [sp + 16]
    // (`ldr s1, [sp, 16]` and `ldr q0, [sp, 32]` after a 16-byte push).
    let mut args = vec![Type::F64; 8];
    args.extend([Type::F32, Type::LONG_DOUBLE, Type::F64]);
    let p = plan(&args, &Type::F32, None).unwrap();
    assert_eq!(moves(&p, 7), [(0, MoveOp::Copy, v(7), 8)]);
    assert_eq!(moves(&p, 8), [(0, MoveOp::Copy, S, 4)]);
    assert_eq!(moves(&p, 9), [(0, MoveOp::Copy, S + 16, 16)]);
    assert_eq!(moves(&p, 10), [(0, MoveOp::Copy, S + 32, 8)]);
    assert_eq!(p.stack_size, 48);
}

#[test]
fn integers_past_x7_take_8_byte_slots_widened() {
    let mut args = vec![Type::I64; 8];
    args.extend([Type::I8, Type::U32, Type::POINTER]);
    let p = plan(&args, &Type::VOID, None).unwrap();
    assert_eq!(moves(&p, 8), [(0, MoveOp::SignExtend, S, 1)]);
    assert_eq!(moves(&p, 9), [(0, MoveOp::ZeroExtend, S + 8, 4)]);
    assert_eq!(moves(&p, 10), [(0, MoveOp::ZeroExtend, S + 16, 8)]);
    assert_eq!(p.stack_size, 32);
}

#[test]
fn hfas_take_one_v_register_per_member() {
    // double arg_d3(struct { double a[2]; double b; }): d0, d1, d2 (arrays count).
    let d3 = st(&[Type::array(Type::F64, 2).unwrap(), Type::F64]);
    assert_eq!(hfa(&d3), Some(Hfa { size: 8, count: 3 }));
    let p = plan(&[Type::F32, d3], &Type::VOID, None).unwrap();
    assert_eq!(
        moves(&p, 1),
        [
            (0, MoveOp::Copy, v(1), 8),
            (8, MoveOp::Copy, v(2), 8),
            (16, MoveOp::Copy, v(3), 8)
        ]
    );
    // float arg_uf(union { float a; float b[2]; }): s0, s1 (`fmov s0, s1` returns b[1]).
    let uf = Type::union([Type::F32, Type::array(Type::F32, 2).unwrap()]).unwrap();
    assert_eq!(hfa(&uf), Some(Hfa { size: 4, count: 2 }));
    // Long double members and complex types (gcc treats `_Complex T` as an HFA of two T).
    let l2 = st(&[Type::LONG_DOUBLE, Type::LONG_DOUBLE]);
    assert_eq!(hfa(&l2), Some(Hfa { size: 16, count: 2 }));
    assert_eq!(hfa(&Type::complex_f32()), Some(Hfa { size: 4, count: 2 }));
    let nested = st(&[Type::complex_f64(), st(&[Type::F64])]);
    assert_eq!(hfa(&nested), Some(Hfa { size: 8, count: 3 }));
    // Not HFAs: five members, mixed kinds, an integer, padding from an alignment.
    assert_eq!(hfa(&st(&[Type::F32; 5])), None);
    assert_eq!(hfa(&st(&[Type::F32, Type::F64])), None);
    assert_eq!(hfa(&st(&[Type::F32, Type::I32])), None);
    assert_eq!(hfa(&st(&[Type::F32]).aligned(16).unwrap()), None);
    assert_eq!(hfa(&Type::union([Type::F32, Type::F64]).unwrap()), None);
    // Padding inside a union member counts too (gcc returns this union in x0).
    let pad_f = st(&[Type::F32]).aligned(8).unwrap();
    let upad = Type::union([Type::array(Type::F32, 2).unwrap(), pad_f]).unwrap();
    assert_eq!(hfa(&upad), None);
    assert_eq!(hfa(&Type::F64), None);
}

#[test]
fn an_hfa_that_does_not_fit_goes_to_the_stack_and_closes_the_v_registers() {
    // double hfa_exh(double a0..a5, struct { float a, b, c; } f, double after): f at [sp]
    // (`ldr s0, [sp, 8]` is f.c), after at [sp + 16], not d6.
    let f3 = st(&[Type::F32, Type::F32, Type::F32]);
    let mut args = vec![Type::F64; 6];
    args.extend([f3, Type::F64]);
    let p = plan(&args, &Type::F64, None).unwrap();
    assert_eq!(moves(&p, 6), [(0, MoveOp::Copy, S, 12)]);
    assert_eq!(moves(&p, 7), [(0, MoveOp::Copy, S + 16, 8)]);
    // An HFA of long doubles on the stack is 16-aligned.
    let l2 = st(&[Type::LONG_DOUBLE, Type::LONG_DOUBLE]);
    let mut args = vec![Type::F64; 7];
    args.extend([Type::F32, Type::I32, l2]);
    let p = plan(&args, &Type::VOID, None).unwrap();
    assert_eq!(moves(&p, 7), [(0, MoveOp::Copy, v(7), 4)]);
    assert_eq!(moves(&p, 9), [(0, MoveOp::Copy, S, 32)]);
}

#[test]
fn small_composites_take_consecutive_x_registers() {
    // struct { float f; int i; } and struct { char c; short s; int i; double d; } (16 B).
    let fi = st(&[Type::F32, Type::I32]);
    let mix16 = st(&[Type::I8, Type::I16, Type::I32, Type::F64]);
    let s3 = st(&[Type::U8, Type::U8, Type::U8]);
    let p = plan(&[fi, Type::I32, mix16, s3], &Type::VOID, None).unwrap();
    assert_eq!(moves(&p, 0), [(0, MoveOp::Copy, x(0), 8)]);
    assert_eq!(moves(&p, 1), [(0, MoveOp::SignExtend, x(1), 4)]);
    assert_eq!(moves(&p, 2), [(0, MoveOp::Copy, x(2), 16)]);
    assert_eq!(moves(&p, 3), [(0, MoveOp::Copy, x(4), 3)]);
}

#[test]
fn a_pair_that_does_not_fit_goes_to_the_stack_and_closes_the_x_registers() {
    // long pair_exh(long a0..a6, Mix16 m, long c): m at [sp] (`ldrsw x1, [sp, 4]` is m.i),
    // c at [sp + 16], not x7.
    let mix16 = st(&[Type::I8, Type::I16, Type::I32, Type::F64]);
    let mut args = vec![Type::I64; 7];
    args.extend([mix16, Type::I64]);
    assert_eq!(&dsts(&args)[6..], [x(6), S, S + 16]);
}

#[test]
fn sixteen_byte_alignment_starts_at_an_even_register() {
    // __int128 arg_i128(long a, __int128 b): b in x2:x3.
    assert_eq!(dsts(&[Type::I64, Type::I128]), [x(0), x(2)]);
    // __int128 arg_i128_stack(long a0..a6, __int128 b): b at [sp] (`ldp x0, x1, [sp]`).
    let mut args = vec![Type::I64; 7];
    args.push(Type::U128);
    let p = plan(&args, &Type::VOID, None).unwrap();
    assert_eq!(moves(&p, 7), [(0, MoveOp::Copy, S, 16)]);
    // long g3(long a0..a7, long x, struct { __int128 v; } q): q at [sp + 16].
    let q = st(&[Type::I128]);
    let mut args = vec![Type::I64; 9];
    args.push(q.clone());
    assert_eq!(&dsts(&args)[8..], [S, S + 16]);
    // long g4(long x, struct Q q): x2:x3.
    assert_eq!(dsts(&[Type::I64, q]), [x(0), x(2)]);
    // An `aligned(16)` on the struct itself does not count (natural alignment): long
    // k(long x, U u) with U = struct { long a, b; } aligned(16): u in x1:x2; and
    // long g2(long a0..a7, long x, struct S s): s at [sp + 8].
    let u = st(&[Type::I64, Type::I64]).aligned(16).unwrap();
    assert_eq!(dsts(&[Type::I64, u.clone()]), [x(0), x(1)]);
    let mut args = vec![Type::I64; 9];
    args.push(u.clone());
    assert_eq!(&dsts(&args)[8..], [S, S + 8]);
    // ... but one on a member does: long g5(long x, struct T { struct S s; }): x2:x3.
    assert_eq!(dsts(&[Type::I64, st(&[u])]), [x(0), x(2)]);
}

#[test]
fn large_composites_go_by_reference_to_a_copy() {
    // long arg_big(struct { long x[3]; }): the address in x0 (`ldr x1, [x0]`).
    let big = st(&[Type::array(Type::I64, 3).unwrap()]);
    let mut args = vec![big.clone(), Type::I32];
    args.extend(vec![Type::I64; 6]);
    args.push(big.clone());
    let p = plan(&args, &Type::VOID, None).unwrap();
    let first = p.moves_of(0)[0];
    let last = p.moves_of(8)[0];
    assert_eq!((first.dst, first.len), (x(0), 24));
    assert_eq!((last.dst, last.len), (S, 24)); // past x7: the pointer on the stack
    let (MoveOp::Reference { copy: a }, MoveOp::Reference { copy: b }) = (first.op, last.op) else {
        panic!("by reference: {first:?} {last:?}");
    };
    // The copies follow the stack arguments, 16-aligned and apart.
    assert_eq!(p.stack_size, 16);
    assert_eq!(a, S + 16);
    assert_eq!(b, S + 16 + 32);
    assert!(p.frame_size >= b + 24 && p.frame_size % 16 == 0);
    let (sources, _) = p.arg_sources(args.iter().map(Type::size));
    assert_eq!(sources[0], ArgSource::Reference(x(0)));
    assert_eq!(sources[8], ArgSource::Reference(S));
}

#[test]
fn returns() {
    let ret = |ty: &Type| plan(&[], ty, None).unwrap().ret;
    use RetReg::*;
    // signed char ret_sc(long): x0, widened in the buffer as libffi's ffi_arg.
    assert_eq!(ret(&Type::I8), RetPlan::regs(&[(Int0, 0, 1)], Some(true)));
    assert_eq!(ret(&Type::U32), RetPlan::regs(&[(Int0, 0, 4)], Some(false)));
    assert_eq!(ret(&Type::I64), RetPlan::regs(&[(Int0, 0, 8)], None));
    assert_eq!(
        ret(&Type::I128),
        RetPlan::regs(&[(Int0, 0, 8), (Int1, 8, 8)], None)
    );
    assert_eq!(ret(&Type::F32), RetPlan::regs(&[(Vec0, 0, 4)], None));
    assert_eq!(
        ret(&Type::LONG_DOUBLE),
        RetPlan::regs(&[(Vec0, 0, 16)], None)
    );
    // F3 ret_f3(float): s0, s1, s2.  L2 ret_l2(long double): q0, q1.
    let f3 = st(&[Type::F32, Type::F32, Type::F32]);
    assert_eq!(
        ret(&f3),
        RetPlan::regs(&[(Vec0, 0, 4), (Vec1, 4, 4), (Vec2, 8, 4)], None)
    );
    let l4 = st(&[Type::LONG_DOUBLE; 4]);
    assert_eq!(
        ret(&l4),
        RetPlan::regs(
            &[
                (Vec0, 0, 16),
                (Vec1, 16, 16),
                (Vec2, 32, 16),
                (Vec3, 48, 16)
            ],
            None
        )
    );
    // _Complex float ret_cf(float): s0, s1.
    assert_eq!(
        ret(&Type::complex_f32()),
        RetPlan::regs(&[(Vec0, 0, 4), (Vec1, 4, 4)], None)
    );
    // FI ret_fi(int): x0 (`orr x0, x1, x0, lsl 32`); a 12-byte struct in x0 and x1.
    assert_eq!(
        ret(&st(&[Type::F32, Type::I32])),
        RetPlan::regs(&[(Int0, 0, 8)], None)
    );
    assert_eq!(
        ret(&st(&[Type::I32; 3])),
        RetPlan::regs(&[(Int0, 0, 8), (Int1, 8, 4)], None)
    );
    assert_eq!(ret(&st(&[Type::U8])), RetPlan::regs(&[(Int0, 0, 1)], None));
    // Big ret_big(long): stored through x8 (`stp x0, x2, [x8]`), x0 not set.
    let big = st(&[Type::array(Type::I64, 3).unwrap()]);
    let p = plan(&[Type::I64], &big, None).unwrap();
    assert_eq!(p.ret, RetPlan::Indirect { dst: X8 });
    assert_eq!(p.moves_of(0)[0].dst, x(0)); // x8 is not an argument register
    assert!(p.frame_size >= p.ret_scratch + 24);
    assert_eq!(ret(&Type::VOID), RetPlan::Void);
}

#[test]
fn variadic_arguments_are_passed_like_named_ones() {
    // long call_vsum(void) { return vsum(3, 1.5, 2L, (F3){1, 2, 3}); }: w0, d0, x1,
    // s1..s3.
    let f3 = st(&[Type::F32, Type::F32, Type::F32]);
    let args = [Type::I32, Type::F64, Type::I64, f3];
    let named = plan(&args, &Type::I64, None).unwrap();
    let var = plan(&args, &Type::I64, Some(1)).unwrap();
    assert_eq!(named, var);
    assert_eq!(moves(&var, 1), [(0, MoveOp::Copy, v(0), 8)]);
    assert_eq!(moves(&var, 2), [(0, MoveOp::ZeroExtend, x(1), 8)]);
    assert_eq!(var.moves_of(3)[2].dst, v(3));
    // C's promotions must already be applied.
    let err = plan(&[Type::I32, Type::F32], &Type::VOID, Some(1)).unwrap_err();
    assert_eq!(
        (err.arg, err.reason),
        (Some(1), ValueTypeError::NotPromoted)
    );
}

#[test]
fn refusals_are_errors() {
    let err = plan(&[Type::VOID], &Type::VOID, None).unwrap_err();
    assert_eq!(err.reason, ValueTypeError::Void);
    let arr = Type::array(Type::I32, 4).unwrap();
    assert_eq!(
        plan(&[], &arr, None).unwrap_err().reason,
        ValueTypeError::Array
    );
    let over = st(&[Type::I64]).aligned(32).unwrap();
    assert_eq!(
        plan(&[Type::I32, over], &Type::VOID, None).unwrap_err(),
        PlanError {
            arg: Some(1),
            reason: ValueTypeError::OverAligned
        }
    );
}

#[test]
fn closures_find_hfas_assembled_and_the_rest_directly() {
    let d2 = st(&[Type::F64, Type::F64]);
    let args = [Type::I32, d2, Type::I128];
    let p = plan(&args, &Type::VOID, None).unwrap();
    let (sources, scratch) = p.arg_sources(args.iter().map(Type::size));
    assert_eq!(sources[0], ArgSource::Direct(x(0)));
    assert_eq!(
        sources[1],
        ArgSource::Assembled {
            at: 0,
            start: 1,
            end: 3
        }
    );
    assert_eq!(sources[2], ArgSource::Direct(x(2)));
    assert_eq!(scratch, 16);
}
