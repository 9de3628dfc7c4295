//! Execution tests of the 32-bit ARM dynamic layer against `test-support/c/dynamic_arm.c`:
//! every signature shape under both procedure call standards (the VFP variant, gcc's
//! `pcs("aapcs-vfp")`, and the base standard, `pcs("aapcs")`), called through a Cif and
//! implemented by a closure that gcc-compiled C calls; variadic calls and closures; Rust's
//! own `extern "C"` and `extern "aapcs"` through the typed layer.
//!
//! Every value is checked against one computed here from the constants the C peer passes
//! (written out again below): the callee's result after a call, and in a closure each
//! argument's scalars as they arrive, then what the C caller folds the closure's result
//! into. The C peer is T32 code (gcc's default for this target), so on
//! `armv7-unknown-linux-gnueabihf` every call and closure here crosses between A32 and
//! T32.

#![cfg(all(target_arch = "arm", target_os = "linux"))]

use core::ffi::c_void;
use std::cell::RefCell;

mod common;

use closure_ffi::dynamic::plan::ValueTypeError;
use closure_ffi::dynamic::{
    Abi, Args, CType, Cif, CifError, Closure, CodePtr, Complex, LongDouble, Ret, Type, TypedCif,
    TypedClosure, TypedClosureError,
};
// Links the C peer (test-support/c/dynamic_arm.c).
use closure_ffi_test_support as _;

/// The entries of an `arm_<cc>_table`, in order (callee, then caller).
#[derive(Clone, Copy, Debug)]
enum Shape {
    Ints,
    Fp,
    F32,
    I8,
    U16,
    S3,
    Big,
    Split,
    C6,
    Pair,
    HfaF3,
    HfaD4,
    Cf,
    Cd,
    Uf,
    Fd,
    Many,
    Void,
    Ptr,
}

const SHAPES: usize = 19;
type Table = [*const c_void; 2 * SHAPES];

const ALL: [Shape; SHAPES] = [
    Shape::Ints,
    Shape::Fp,
    Shape::F32,
    Shape::I8,
    Shape::U16,
    Shape::S3,
    Shape::Big,
    Shape::Split,
    Shape::C6,
    Shape::Pair,
    Shape::HfaF3,
    Shape::HfaD4,
    Shape::Cf,
    Shape::Cd,
    Shape::Uf,
    Shape::Fd,
    Shape::Many,
    Shape::Void,
    Shape::Ptr,
];

extern "C" {
    static arm_vfp_table: Table;
    static arm_base_table: Table;
    fn arm_vfmt();
    fn arm_call_vfmt(fp: *const c_void) -> f64;
    fn arm_vdouble();
}

#[repr(C)]
#[derive(Clone, Copy)]
struct ArmS3 {
    a: u8,
    b: u8,
    c: u8,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct ArmS12 {
    a: i32,
    b: i32,
    c: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct ArmBig {
    v: [i32; 5],
    d: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct ArmF3 {
    a: f32,
    b: f32,
    c: f32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct ArmD2 {
    a: f64,
    b: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct ArmD4 {
    v: [f64; 4],
}

#[repr(C)]
#[derive(Clone, Copy)]
union ArmUf3 {
    a: f32,
    b: [f32; 3],
}

#[repr(C)]
#[derive(Clone, Copy)]
struct ArmFd {
    a: f32,
    b: f64,
}

fn st(members: &[Type]) -> Type {
    Type::structure(members.iter().cloned()).unwrap()
}
fn s3_ty() -> Type {
    st(&[Type::U8, Type::U8, Type::U8])
}
fn s12_ty() -> Type {
    st(&[Type::I32, Type::I32, Type::I32])
}
fn big_ty() -> Type {
    st(&[Type::array(Type::I32, 5).unwrap(), Type::F64])
}
fn f3_ty() -> Type {
    st(&[Type::F32, Type::F32, Type::F32])
}
fn d2_ty() -> Type {
    st(&[Type::F64, Type::F64])
}
fn d4_ty() -> Type {
    st(&[Type::array(Type::F64, 4).unwrap()])
}
fn uf3_ty() -> Type {
    Type::union([Type::F32, Type::array(Type::F32, 3).unwrap()]).unwrap()
}
fn fd_ty() -> Type {
    st(&[Type::F32, Type::F64])
}

/// A value's bytes, 8-aligned (room for the largest value here, 32 bytes).
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Val([u8; 80]);

fn val<T: Copy>(value: T) -> Val {
    assert!(size_of::<T>() <= 80);
    let mut v = Val([0; 80]);
    // SAFETY: T fits (checked) and is plain data.
    unsafe { v.0.as_mut_ptr().cast::<T>().write_unaligned(value) };
    v
}

/// A C type and a value of it.
type Typed = (Type, Val);

/// One shape: the signature, the arguments the C caller passes (and a call from here
/// passes too), what the callee returns for them, and what the caller folds that into.
struct Case {
    args: Vec<Typed>,
    ret: Typed,
    folded: Typed,
}

fn case(shape: Shape) -> Case {
    use Shape::*;
    let s12 = ArmS12 { a: 4, b: -5, c: 6 };
    let (args, ret, folded): (Vec<Typed>, Typed, Typed) = match shape {
        Ints => {
            let (a, b, c, d) = (-5i8, 200u8, -3000i16, 60000u16);
            let (e, f, g, h) = (
                -100_000i32,
                3_000_000_000u32,
                -(1i64 << 40) - 7,
                (1u64 << 63) + 5,
            );
            let sum = [
                (a as u64, 1u64),
                (b as u64, 3),
                (c as u64, 5),
                (d as u64, 7),
                (e as u64, 11),
                (f as u64, 13),
                (g as u64, 17),
                (h, 19),
            ]
            .iter()
            .fold(0u64, |acc, &(x, k)| acc.wrapping_add(x.wrapping_mul(k)));
            (
                vec![
                    (Type::I8, val(a)),
                    (Type::U8, val(b)),
                    (Type::I16, val(c)),
                    (Type::U16, val(d)),
                    (Type::I32, val(e)),
                    (Type::U32, val(f)),
                    (Type::I64, val(g)),
                    (Type::U64, val(h)),
                ],
                (Type::U64, val(sum)),
                (Type::U64, val(sum)),
            )
        }
        Fp => {
            let r = 1.5f64 + -2.25 * 2.0 + 0.125 * 4.0 + 3.5 * 8.0 + -0.75 * 16.0 + 7.0 * 32.0;
            (
                vec![
                    (Type::F32, val(1.5f32)),
                    (Type::F64, val(-2.25f64)),
                    (Type::F32, val(0.125f32)),
                    (Type::F64, val(3.5f64)),
                    (Type::F32, val(-0.75f32)),
                    (Type::I32, val(7i32)),
                ],
                (Type::F64, val(r)),
                (Type::F64, val(r)),
            )
        }
        F32 => (
            vec![(Type::I32, val(3i32)), (Type::F32, val(1.25f32))],
            (Type::F32, val(3.75f32)),
            (Type::F32, val(3.75f32)),
        ),
        I8 => (
            vec![(Type::I8, val(-100i8)), (Type::I8, val(27i8))],
            (Type::I8, val(-127i8)),
            (Type::I32, val(-127i32)),
        ),
        U16 => (
            vec![(Type::U16, val(65000u16)), (Type::U16, val(600u16))],
            (Type::U16, val(64u16)),
            (Type::U32, val(64u32)),
        ),
        S3 => (
            vec![
                (
                    s3_ty(),
                    val(ArmS3 {
                        a: 10,
                        b: 20,
                        c: 30,
                    }),
                ),
                (Type::I32, val(5i32)),
            ],
            (
                s3_ty(),
                val(ArmS3 {
                    a: 15,
                    b: 30,
                    c: 45,
                }),
            ),
            (Type::U32, val(15u32 | 30 << 8 | 45 << 16)),
        ),
        Big => {
            let b = ArmBig {
                v: [1, 2, 3, 4, 5],
                d: 0.5,
            };
            let r = ArmBig {
                v: core::array::from_fn(|i| b.v[i] + 100 + i as i32),
                d: 4.0,
            };
            let folded = (0..5).fold(r.d, |acc, i| acc + f64::from(r.v[i] * (i as i32 + 1)));
            (
                vec![
                    (Type::I32, val(100i32)),
                    (big_ty(), val(b)),
                    (Type::F64, val(8.0f64)),
                ],
                (big_ty(), val(r)),
                (Type::F64, val(folded)),
            )
        }
        Split => {
            let r = 1 + 2 * 2 + 3 * 3 + s12.a * 4 + s12.b * 5 + s12.c * 6 + 7 * 7;
            (
                vec![
                    (Type::I32, val(1i32)),
                    (Type::I32, val(2i32)),
                    (Type::I32, val(3i32)),
                    (s12_ty(), val(s12)),
                    (Type::I32, val(7i32)),
                ],
                (Type::I32, val(r)),
                (Type::I32, val(r)),
            )
        }
        C6 => {
            let s = ArmS12 {
                a: -13,
                b: 14,
                c: 15,
            };
            let ds = [0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, -8.5];
            let ints = [10, -11, 12, s.a, s.b, s.c, 16];
            let r = ds
                .iter()
                .enumerate()
                .fold(0.0, |acc, (k, d)| acc + d * (k + 1) as f64)
                + ints
                    .iter()
                    .enumerate()
                    .fold(0.0, |acc, (k, &i)| acc + f64::from(i * (k as i32 + 10)));
            let mut args: Vec<_> = ds.iter().map(|&d| (Type::F64, val(d))).collect();
            args.extend([
                (Type::I32, val(10i32)),
                (Type::I32, val(-11i32)),
                (Type::I32, val(12i32)),
                (s12_ty(), val(s)),
                (Type::I32, val(16i32)),
            ]);
            (args, (Type::F64, val(r)), (Type::F64, val(r)))
        }
        Pair => {
            let (a, b, c, d) = (-9i64, 1i64 << 35, 11i64, -(1i64 << 33));
            let r = a + b * 3 + c * 5 + d * 7;
            (
                vec![
                    (Type::I32, val(a as i32)),
                    (Type::I64, val(b)),
                    (Type::I32, val(c as i32)),
                    (Type::I64, val(d)),
                ],
                (Type::I64, val(r)),
                (Type::I64, val(r)),
            )
        }
        HfaF3 => {
            let r = ArmF3 {
                a: 1.5 + 0.5,
                b: 2.5 * 4.0,
                c: -3.0 - 0.25,
            };
            let folded = f64::from(r.a) + f64::from(r.b) * 2.0 + f64::from(r.c) * 4.0;
            (
                vec![
                    (Type::F32, val(0.5f32)),
                    (
                        f3_ty(),
                        val(ArmF3 {
                            a: 1.5,
                            b: 2.5,
                            c: -3.0,
                        }),
                    ),
                    (d2_ty(), val(ArmD2 { a: 4.0, b: 0.25 })),
                ],
                (f3_ty(), val(r)),
                (Type::F64, val(folded)),
            )
        }
        HfaD4 => {
            let a = ArmD4 {
                v: [1.0, 2.0, 3.0, 4.0],
            };
            let b = ArmD4 {
                v: [0.5, -0.5, 1.5, -1.5],
            };
            let c = ArmD4 {
                v: [8.0, 16.0, 32.0, 64.0],
            };
            let r = ArmD4 {
                v: core::array::from_fn(|k| a.v[k] + b.v[k] * 2.0 + c.v[k] * 4.0 - 3.0),
            };
            let folded = r.v[0] + r.v[1] * 10.0 + r.v[2] * 100.0 + r.v[3] * 1000.0;
            (
                vec![
                    (d4_ty(), val(a)),
                    (d4_ty(), val(b)),
                    (d4_ty(), val(c)),
                    (Type::I32, val(-3i32)),
                ],
                (d4_ty(), val(r)),
                (Type::F64, val(folded)),
            )
        }
        Cf => (
            vec![
                (
                    Type::complex_f32(),
                    val(Complex {
                        re: 1.5f32,
                        im: 2.5,
                    }),
                ),
                (Type::F32, val(2.0f32)),
            ],
            (
                Type::complex_f32(),
                val(Complex {
                    re: 3.0f32,
                    im: 4.5,
                }),
            ),
            (Type::F64, val(3.0f64 + 45.0)),
        ),
        Cd => (
            vec![
                (
                    Type::complex_f64(),
                    val(Complex {
                        re: -1.25f64,
                        im: 3.0,
                    }),
                ),
                (Type::F64, val(4.0f64)),
            ],
            (
                Type::complex_f64(),
                val(Complex {
                    re: -5.0f64,
                    im: 7.0,
                }),
            ),
            (Type::F64, val(-5.0f64 + 70.0)),
        ),
        Uf => {
            let r = 0.5f32 + -1.5 * 2.0 + 2.25 * 4.0 + 0.125 * 8.0;
            (
                vec![
                    (
                        uf3_ty(),
                        val(ArmUf3 {
                            b: [0.5, -1.5, 2.25],
                        }),
                    ),
                    (Type::F32, val(0.125f32)),
                ],
                (Type::F32, val(r)),
                (Type::F32, val(r)),
            )
        }
        Fd => {
            let r = 3.0f64 + -0.5 * 2.0 + 1024.25 * 4.0;
            (
                vec![
                    (Type::F32, val(3.0f32)),
                    (
                        fd_ty(),
                        val(ArmFd {
                            a: -0.5,
                            b: 1024.25,
                        }),
                    ),
                ],
                (Type::F64, val(r)),
                (Type::F64, val(r)),
            )
        }
        Many => {
            let v: Vec<f32> = (1..=20)
                .map(|k| if k == 20 { -10.0 } else { k as f32 * 0.5 })
                .collect();
            let r = v
                .iter()
                .enumerate()
                .fold(0.0, |acc, (k, &x)| acc + f64::from(x) * (k + 1) as f64);
            (
                v.iter().map(|&x| (Type::F32, val(x))).collect(),
                (Type::F64, val(r)),
                (Type::F64, val(r)),
            )
        }
        Void => unreachable!("checked by void_returns"),
        Ptr => (
            vec![(Type::POINTER, val(0x1000usize)), (Type::I32, val(5i32))],
            (Type::POINTER, val(0x1005usize)),
            (Type::USIZE, val(0x1005usize)),
        ),
    };
    Case { args, ret, folded }
}

/// The procedure call standards with their instantiation of the shapes.
fn standards() -> [(Abi, &'static Table); 2] {
    // SAFETY: the tables are immutable C arrays of function addresses.
    unsafe { [(Abi::Vfp, &arm_vfp_table), (Abi::Aapcs, &arm_base_table)] }
}

/// Whether the scalars of two values of `ty` are equal (padding is not compared), by
/// their bytes (every float here is exact).
fn same_scalars(ty: &Type, a: *const u8, b: *const u8) -> bool {
    let mut same = true;
    ty.for_each_scalar(0, &mut |off, kind| {
        let len = Type::scalar(kind).map_or(0, |t| t.size());
        // SAFETY: both values have type `ty`, whose scalars lie within it.
        let (x, y) = unsafe {
            (
                core::slice::from_raw_parts(a.add(off), len),
                core::slice::from_raw_parts(b.add(off), len),
            )
        };
        same &= x == y;
    });
    same
}

/// Calls `fun` through `cif` with `args`, returning the return buffer (filled with 0xA5
/// first).
fn call(cif: &Cif, fun: *const c_void, args: &[Val]) -> Val {
    let ptrs: Vec<*mut c_void> = args
        .iter()
        .map(|v| v.0.as_ptr().cast_mut().cast())
        .collect();
    let mut ret = Val([0xA5; 80]);
    // SAFETY: every caller passes a C function of the Cif's signature and values of its
    // argument types.
    unsafe { cif.call_raw(CodePtr::new(fun), ret.0.as_mut_ptr().cast(), ptrs.as_ptr()) };
    ret
}

#[test]
fn calls_reach_gcc_callees_with_every_shape() {
    for (abi, table) in standards() {
        for (i, &shape) in ALL.iter().enumerate() {
            if matches!(shape, Shape::Void) {
                continue;
            }
            let case = case(shape);
            let types = case.args.iter().map(|(t, _)| t.clone());
            let cif = Cif::new(abi, types, case.ret.0.clone()).unwrap();
            let values: Vec<Val> = case.args.iter().map(|&(_, v)| v).collect();
            let got = call(&cif, table[2 * i], &values);
            assert!(
                same_scalars(&case.ret.0, got.0.as_ptr(), case.ret.1 .0.as_ptr()),
                "{abi:?} {shape:?}: got {:02x?}",
                &got.0[..case.ret.0.size()]
            );
        }
    }
}

#[test]
fn closures_called_by_gcc_callers_with_every_shape() {
    for (abi, table) in standards() {
        for (i, &shape) in ALL.iter().enumerate() {
            if matches!(shape, Shape::Void) {
                continue;
            }
            let case = case(shape);
            let types: Vec<Type> = case.args.iter().map(|(t, _)| t.clone()).collect();
            let cif = Cif::new(abi, types.clone(), case.ret.0.clone()).unwrap();
            // Each argument as it arrived, compared after the call (a panic inside a
            // closure would abort the test binary).
            let seen = RefCell::new(Vec::new());
            let expected = case.args.clone();
            let ret_val = case.ret.1;
            let ret_size = case.ret.0.size();
            let closure = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
                let mut seen = seen.borrow_mut();
                for (k, (ty, want)) in expected.iter().enumerate() {
                    let ptr = args.ptr(k).unwrap().cast::<u8>();
                    seen.push(same_scalars(ty, ptr, want.0.as_ptr()));
                }
                // SAFETY: the buffer holds the return type, `ret_size` bytes.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        ret_val.0.as_ptr(),
                        ret.as_ptr().cast::<u8>(),
                        ret_size,
                    )
                };
            })
            .unwrap();
            let caller = Cif::new(Abi::DEFAULT, [Type::POINTER], case.folded.0.clone()).unwrap();
            let code = closure.code_ptr().as_ptr();
            let got = call(&caller, table[2 * i + 1], &[val(code)]);
            drop(closure);
            let seen = seen.into_inner();
            assert_eq!(
                seen,
                vec![true; types.len()],
                "{abi:?} {shape:?}: arguments"
            );
            assert!(
                same_scalars(&case.folded.0, got.0.as_ptr(), case.folded.1 .0.as_ptr()),
                "{abi:?} {shape:?}: folded {:02x?}",
                &got.0[..case.folded.0.size()]
            );
        }
    }
}

#[test]
fn narrow_integer_results_are_widened_to_ffi_arg() {
    for (abi, table) in standards() {
        for (shape, ty, widened) in [
            (Shape::I8, Type::I8, -127i32 as u32),
            (Shape::U16, Type::U16, 64u32),
        ] {
            let case = case(shape);
            let cif = Cif::new(abi, case.args.iter().map(|(t, _)| t.clone()), ty).unwrap();
            let values: Vec<Val> = case.args.iter().map(|&(_, v)| v).collect();
            let got = call(&cif, table[2 * shape as usize], &values);
            assert_eq!(got.0[..4], widened.to_le_bytes(), "{abi:?} {shape:?}");
        }
    }
}

#[test]
fn void_returns() {
    for (abi, table) in standards() {
        let i = Shape::Void as usize;
        let cif = Cif::new(abi, [Type::POINTER, Type::I32], Type::VOID).unwrap();
        let mut out = 0i32;
        call(&cif, table[2 * i], &[val(&mut out as *mut i32), val(21i32)]);
        assert_eq!(out, 42, "{abi:?}");
        let closure = Closure::new(cif, |args, _ret| {
            let out = args.get::<*mut i32>(0).unwrap();
            let v = args.get::<i32>(1).unwrap();
            // SAFETY: the C caller passes the address of its local.
            unsafe { *out = v * 2 };
        })
        .unwrap();
        // SAFETY: the caller's signature, taking the closure's code.
        let caller: extern "C" fn(CodePtr) -> i32 =
            unsafe { core::mem::transmute(table[2 * i + 1]) };
        assert_eq!(caller(closure.code_ptr()), 42, "{abi:?}");
    }
}

#[test]
fn null_rvalue_discards_results_even_through_memory() {
    for (abi, table) in standards() {
        let case = case(Shape::Big);
        let types = case.args.iter().map(|(t, _)| t.clone());
        let cif = Cif::new(abi, types, case.ret.0.clone()).unwrap();
        let values: Vec<Val> = case.args.iter().map(|&(_, v)| v).collect();
        let ptrs: Vec<*mut c_void> = values
            .iter()
            .map(|v| v.0.as_ptr().cast_mut().cast())
            .collect();
        let fun = CodePtr::new(table[2 * Shape::Big as usize]);
        // SAFETY: the callee has the Cif's signature; a null rvalue makes the call use the
        // plan's scratch for the returned struct.
        unsafe { cif.call_raw(fun, core::ptr::null_mut(), ptrs.as_ptr()) };
    }
}

#[test]
fn variadic_calls_and_closures_use_the_base_standard() {
    let fmt = c"idlidp";
    let args = [
        Type::POINTER,
        Type::I32,
        Type::F64,
        Type::I64,
        Type::I32,
        Type::F64,
        Type::POINTER,
    ];
    let expected =
        3.0 - 0.5 * 2.0 - 3.0 * (1u64 << 40) as f64 + 4.0 * 77.0 + 5.0 * 2.25 + 6.0 * 4096.0;
    // Abi::Vfp, as the C compiler sees every variadic function: marshaled by the base
    // standard all the same.
    for abi in [Abi::Vfp, Abi::Aapcs] {
        let cif = Cif::new_variadic(abi, args.clone(), 1, Type::F64).unwrap();
        let values = [
            val(fmt.as_ptr()),
            val(3i32),
            val(-0.5f64),
            val(-(1i64 << 40)),
            val(77i32),
            val(2.25f64),
            val(0x1000usize),
        ];
        let got = call(&cif, arm_vfmt as *const c_void, &values);
        assert_eq!(
            f64::from_le_bytes(got.0[..8].try_into().unwrap()),
            expected,
            "{abi:?}"
        );
        // A closure with the same variadic Cif, called by C with a variadic pointer.
        let closure = Closure::new(cif, |args, ret| {
            let k = |i: usize, x: f64| i as f64 * x;
            let sum = k(1, f64::from(args.get::<i32>(1).unwrap()))
                + k(2, args.get::<f64>(2).unwrap())
                + k(3, args.get::<i64>(3).unwrap() as f64)
                + k(4, f64::from(args.get::<i32>(4).unwrap()))
                + k(5, args.get::<f64>(5).unwrap())
                + k(6, args.get::<*const u8>(6).unwrap() as usize as f64);
            ret.set(sum).unwrap();
        })
        .unwrap();
        // SAFETY: the closure implements `double (const char *, ...)` for these arguments.
        let got = unsafe { arm_call_vfmt(closure.code_ptr().as_ptr()) };
        assert_eq!(got, expected, "{abi:?}");
    }
    // A fixed double goes to r0:r1 even under the VFP variant.
    let cif = Cif::new_variadic(Abi::Vfp, [Type::F64, Type::I32, Type::F64], 1, Type::F64).unwrap();
    let got = call(
        &cif,
        arm_vdouble as *const c_void,
        &[val(2.5f64), val(-4i32), val(0.75f64)],
    );
    assert_eq!(
        f64::from_le_bytes(got.0[..8].try_into().unwrap()),
        2.5 * 2.0 - 4.0 * 3.0 + 0.75 * 5.0
    );
}

#[test]
fn typed_layer_in_both_standards() {
    type VfpFp = extern "C" fn(f32, f64, f32, f64, f32, i32) -> f64;
    type BaseFp = extern "aapcs" fn(f32, f64, f32, f64, f32, i32) -> f64;
    let expected = 1.5f64 + -2.25 * 2.0 + 0.125 * 4.0 + 3.5 * 8.0 + -0.75 * 16.0 + 7.0 * 32.0;
    let [(_, vfp), (_, base)] = standards();
    let i = Shape::Fp as usize;
    // SAFETY: the table entries have these signatures.
    let (vfp_fp, base_fp): (VfpFp, BaseFp) = unsafe {
        (
            core::mem::transmute::<*const c_void, VfpFp>(vfp[2 * i]),
            core::mem::transmute::<*const c_void, BaseFp>(base[2 * i]),
        )
    };
    let args = (1.5, -2.25, 0.125, 3.5, -0.75, 7);
    let cif = TypedCif::<VfpFp>::new().unwrap();
    assert_eq!(cif.cif().abi(), Abi::Vfp);
    // SAFETY: the same as calling the C function directly.
    assert_eq!(unsafe { cif.call(vfp_fp, args) }, expected);
    let cif = TypedCif::<BaseFp>::new().unwrap();
    assert_eq!(cif.cif().abi(), Abi::Aapcs);
    // SAFETY: as above.
    assert_eq!(unsafe { cif.call(base_fp, args) }, expected);

    let formula = |a: f32, b: f64, c: f32, d: f64, e: f32, i: i32| {
        f64::from(a)
            + b * 2.0
            + f64::from(c) * 4.0
            + d * 8.0
            + f64::from(e) * 16.0
            + f64::from(i) * 32.0
    };
    let vfp_closure = TypedClosure::<VfpFp, _>::new(formula).unwrap();
    let base_closure = TypedClosure::<BaseFp, _>::new(formula).unwrap();
    // SAFETY: the callers take `double (*)(float, double, float, double, float, int32_t)`
    // in their standard; the closures outlive the calls.
    unsafe {
        let vfp_caller: extern "C" fn(VfpFp) -> f64 = core::mem::transmute(vfp[2 * i + 1]);
        let base_caller: extern "C" fn(BaseFp) -> f64 = core::mem::transmute(base[2 * i + 1]);
        assert_eq!(vfp_caller(vfp_closure.fn_ptr()), expected);
        assert_eq!(base_caller(base_closure.fn_ptr()), expected);
        // And from Rust directly.
        assert_eq!(
            (base_closure.fn_ptr())(1.5, -2.25, 0.125, 3.5, -0.75, 7),
            expected
        );
    }
}

#[test]
fn abi_numbers_are_libffis() {
    assert_eq!(Abi::from_raw(1), Ok(Abi::Aapcs));
    assert_eq!(Abi::from_raw(2), Ok(Abi::Vfp));
    assert!(Abi::from_raw(3).is_err());
    assert_eq!(Abi::DEFAULT, Abi::Vfp);
    assert!(Cif::new(Abi::SysV64, [], Type::VOID).is_err());
    assert!(Cif::new(Abi::Aapcs, [Type::I128], Type::VOID).is_err());
}

#[test]
fn closure_code_pointers_are_in_the_builds_instruction_set() {
    let cif = Cif::new(Abi::DEFAULT, [Type::I32], Type::I32).unwrap();
    let closure = Closure::new(cif, |args, ret| {
        ret.set(args.get::<i32>(0).unwrap() + 1).unwrap()
    })
    .unwrap();
    let code = closure.code_ptr().as_ptr() as usize;
    // Rust function pointers have bit 0 set exactly on T32 targets.
    let thumb = (abi_numbers_are_libffis as fn() as usize) & 1 == 1;
    assert_eq!(code & 1 == 1, thumb);
    // SAFETY: the closure implements `int32_t (int32_t)` and outlives the call.
    let f: extern "C" fn(i32) -> i32 = unsafe { closure.fn_ptr() };
    assert_eq!(f(41), 42);
}

/// A closure trampoline needs 4-byte alignment (A32 words, and the T32 literal loads from
/// `Align(PC, 4)`): a misaligned block is given back and the closure refused, never run.
#[test]
fn misaligned_jit_memory_is_refused() {
    use closure_ffi::dynamic::ClosureError;
    let alloc = common::MisalignedAlloc::new(
        closure_ffi::jit_alloc::PoolJitAlloc::with_dual_mapping(false),
    );
    let cif = Cif::new(Abi::DEFAULT, [Type::I32], Type::I32).unwrap();
    let made = Closure::new_in(cif, |_: &Args<'_>, _: Ret<'_>| {}, &alloc);
    assert_eq!(
        made.err(),
        Some(ClosureError::Alloc(closure_ffi::JitAllocError))
    );
    assert_eq!(alloc.releases.load(std::sync::atomic::Ordering::Relaxed), 1);
}

macro_rules! ctypes {
    ($($t:ty => $ty:expr),* $(,)?) => {$(
        // SAFETY: the Type is the struct's C layout (repr(C), same members in order).
        unsafe impl CType for $t {
            fn ffi_type() -> Type {
                $ty
            }
        }
    )*};
}

ctypes!(ArmS12 => s12_ty(), ArmBig => big_ty(), ArmF3 => f3_ty(), ArmD2 => d2_ty(), ArmD4 => d4_ty());

/// One signature against LLVM's own AAPCS code, in both standards: a Rust function of the
/// signature called through a typed Cif, and a typed closure called through a Rust
/// function pointer, must both give what the function gives when called directly.
macro_rules! llvm_case {
    (($($a:ident: $t:ty),*) -> $r:ty $body:block with ($($v:expr),*)) => {{
        extern "C" fn c_fn($($a: $t),*) -> $r $body
        extern "aapcs" fn base_fn($($a: $t),*) -> $r $body
        let want: $r = c_fn($($v),*);
        assert_eq!(base_fn($($v),*), want);
        let sig = stringify!(($($t),*) -> $r);
        // SAFETY: the same as calling the functions directly.
        unsafe {
            let cif = TypedCif::<extern "C" fn($($t),*) -> $r>::new().unwrap();
            assert_eq!(cif.call(c_fn, ($($v,)*)), want, "call C {sig}");
            let cif = TypedCif::<extern "aapcs" fn($($t),*) -> $r>::new().unwrap();
            assert_eq!(cif.call(base_fn, ($($v,)*)), want, "call aapcs {sig}");
        }
        let c_closure =
            TypedClosure::<extern "C" fn($($t),*) -> $r, _>::new(|$($a: $t),*| -> $r { $body })
                .unwrap();
        let base_closure =
            TypedClosure::<extern "aapcs" fn($($t),*) -> $r, _>::new(|$($a: $t),*| -> $r { $body })
                .unwrap();
        // SAFETY: the closures outlive the calls.
        unsafe {
            assert_eq!((c_closure.fn_ptr())($($v),*), want, "closure C {sig}");
            assert_eq!((base_closure.fn_ptr())($($v),*), want, "closure aapcs {sig}");
        }
    }};
}

#[test]
fn typed_calls_and_closures_agree_with_llvm() {
    let d2 = ArmD2 { a: 0.25, b: -8.0 };
    let f3 = ArmF3 {
        a: 1.5,
        b: -2.0,
        c: 0.125,
    };
    let s12 = ArmS12 { a: 7, b: -8, c: 9 };
    let d4 = ArmD4 {
        v: [1.0, -2.5, 4.0, 0.5],
    };
    let big = ArmBig {
        v: [9, 8, 7, 6, 5],
        d: -0.75,
    };
    // Back-filling, a doubleword integer pair, an HFA after the holes.
    llvm_case!((a: f32, b: f64, c: f32, d: i64, e: f32, f: ArmD2, g: i8) -> f64 {
        f64::from(a) + b * 2.0 + f64::from(c) * 4.0 + d as f64 * 8.0 + f64::from(e) * 16.0
            + f.a * 32.0 + f.b * 64.0 + f64::from(g) * 128.0
    } with (0.5, -1.25, 3.0, -(1 << 40), 0.75, d2, -100));
    // A split struct, then a double and a float HFA; an HFA result.
    llvm_case!((a: i32, b: i32, c: i32, s: ArmS12, d: f64, f: ArmF3) -> ArmF3 {
        ArmF3 {
            a: f.a + (a + s.a) as f32,
            b: f.b * (b + s.b) as f32,
            c: f.c - (c + s.c) as f32 + d as f32,
        }
    } with (1, 2, 3, s12, 0.5, f3));
    // Three 4-double HFAs (the third on the stack), floats and ints around them.
    llvm_case!((a: ArmD4, b: ArmD4, x: f32, c: ArmD4, i: i32, y: f64) -> ArmD4 {
        ArmD4 {
            v: core::array::from_fn(|k| {
                a.v[k] + b.v[k] * 2.0 + c.v[k] * 4.0 + f64::from(x) + f64::from(i) - y
            }),
        }
    } with (d4, d4, 1.5, d4, -3, 0.25));
    // A struct returned through memory, a split 8-aligned struct, narrow integers.
    llvm_case!((k: u16, b: ArmBig, s: i8, d: f64) -> ArmBig {
        ArmBig {
            v: core::array::from_fn(|i| b.v[i] * i32::from(s) + i32::from(k)),
            d: b.d * d,
        }
    } with (65535, big, -3, 4.0));
    // Twelve mixed scalars: registers run out in both standards.
    llvm_case!((a: f64, b: f32, c: u8, d: f64, e: i64, f: f32, g: f64, h: f32, i: f64,
        j: u32, k: f64, l: f32) -> f32 {
        (a + f64::from(b) - f64::from(c) + d * 2.0 - e as f64 + f64::from(f) * 3.0 + g
            - f64::from(h) + i * 0.5 + f64::from(j) - k + f64::from(l)) as f32
    } with (1.0, 2.0, 255, -3.5, 1 << 33, 0.25, 8.0, -1.0, 6.0, 4_000_000_000, 0.5, 9.0));
}

/// `long double` is a `double` here, `LongDouble` an 8-byte struct to Rust. The base
/// standard passes both in an even core pair, so a typed signature may take one; every
/// other place where the two go differently is refused.
#[test]
fn typed_long_double_only_where_rust_passes_it_like_c() {
    extern "aapcs" fn scaled(k: i32, x: LongDouble) -> f64 {
        f64::from(k) * x.to_f64()
    }
    let x = LongDouble::from_f64(-2.75);
    let cif = TypedCif::<extern "aapcs" fn(i32, LongDouble) -> f64>::new().unwrap();
    // SAFETY: `scaled` has the signature.
    assert_eq!(unsafe { cif.call(scaled, (3, x)) }, -8.25);
    let closure = TypedClosure::<extern "aapcs" fn(i32, LongDouble) -> f64, _>::new(
        |k: i32, x: LongDouble| f64::from(k) * x.to_f64(),
    )
    .unwrap();
    // SAFETY: the closure outlives the call.
    assert_eq!(unsafe { (closure.fn_ptr())(5, x) }, -13.75);

    let refused = ValueTypeError::NoRustEquivalent;
    let arg = CifError::BadArgType {
        index: 1,
        reason: refused,
    };
    let ret = CifError::BadReturnType(refused);
    // VFP passes it in d registers, both ways.
    let err = TypedCif::<extern "C" fn(i32, LongDouble) -> f64>::new().unwrap_err();
    assert_eq!(err, arg);
    let err = TypedCif::<extern "C" fn(f64) -> LongDouble>::new().unwrap_err();
    assert_eq!(err, ret);
    // The base standard returns it in r0:r1.
    let err = TypedCif::<extern "aapcs" fn(f64) -> LongDouble>::new().unwrap_err();
    assert_eq!(err, ret);
    let closure =
        TypedClosure::<extern "aapcs" fn(f64) -> LongDouble, _>::new(LongDouble::from_f64);
    assert!(matches!(closure, Err(TypedClosureError::Cif(e)) if e == ret));
}
