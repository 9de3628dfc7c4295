//! Execution tests of the i386 dynamic layer against `test-support/c/dynamic_i386.c`: every
//! signature shape in every convention gcc implements (cdecl/System V, stdcall, fastcall,
//! thiscall, ms_abi), called through a Cif and implemented by a closure that gcc-compiled C
//! calls; pascal and Borland register against hand-written assembly peers; variadic calls
//! and closures; Rust's own `extern "stdcall"`, `"fastcall"` and `"thiscall"` through the
//! typed layer.
//!
//! Every value is checked against the formula the C peer computes (written out again
//! here), and closures check each argument they receive.

#![cfg(all(target_arch = "x86", target_os = "linux"))]

use core::ffi::c_void;
use std::cell::Cell;

use closure_ffi::dynamic::plan::ValueTypeError;
// Links the C peer (test-support/c/dynamic_i386.c).
use closure_ffi::dynamic::{
    Abi, Args, Cif, CifError, Closure, CodePtr, LongDouble, Ret, Type, TypedCif, TypedClosure,
};
use closure_ffi_test_support as _;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct S3 {
    a: u8,
    b: u8,
    c: u8,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct S8 {
    a: i32,
    b: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct Big {
    v: [i32; 5],
    d: f64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct S1 {
    x: i8,
}

/// The entries of an `i386_<cc>_table`, in order (callee, then caller).
#[derive(Clone, Copy, Debug)]
enum Shape {
    Ints,
    Fp,
    F32,
    Ld,
    I8,
    U16,
    S3,
    S8,
    Big,
    Regs,
    S1First,
    After64,
    FpRegs,
    Ptr,
    Cf,
    Cd,
    Void,
}

const SHAPES: usize = 17;
type Table = [*const c_void; 2 * SHAPES];

extern "C" {
    static i386_cdecl_table: Table;
    static i386_stdcall_table: Table;
    static i386_fastcall_table: Table;
    static i386_thiscall_table: Table;
    static i386_mscdecl_table: Table;
    fn i386_vfmt();
    fn i386_call_vfmt(fp: *const c_void) -> f64;
    fn i386_pascal_sub();
    fn i386_call_pascal_sub(fp: *const c_void) -> i32;
    fn i386_register_mix();
    fn i386_call_register_mix(fp: *const c_void) -> i32;
    fn i386_register_ld();
}

fn s3_ty() -> Type {
    Type::structure([Type::U8, Type::U8, Type::U8]).unwrap()
}
fn s8_ty() -> Type {
    Type::structure([Type::I32, Type::I32]).unwrap()
}
fn big_ty() -> Type {
    Type::structure([Type::array(Type::I32, 5).unwrap(), Type::F64]).unwrap()
}
fn s1_ty() -> Type {
    Type::structure([Type::I8]).unwrap()
}

/// The signature of a shape.
fn signature(shape: Shape) -> (Vec<Type>, Type) {
    use Shape::*;
    match shape {
        Ints => (
            vec![
                Type::I8,
                Type::U8,
                Type::I16,
                Type::U16,
                Type::I32,
                Type::U32,
                Type::I64,
                Type::U64,
            ],
            Type::U64,
        ),
        Fp => (
            vec![Type::F32, Type::F64, Type::LONG_DOUBLE, Type::I32],
            Type::F64,
        ),
        F32 => (vec![Type::I32, Type::F32], Type::F32),
        Ld => (vec![Type::LONG_DOUBLE, Type::I32], Type::LONG_DOUBLE),
        I8 => (vec![Type::I8, Type::I8], Type::I8),
        U16 => (vec![Type::U16, Type::U16], Type::U16),
        S3 => (vec![s3_ty(), Type::I32], s3_ty()),
        S8 => (vec![Type::I32, Type::I32], s8_ty()),
        Big => (vec![big_ty(), Type::I64, Type::F64], big_ty()),
        Regs => (vec![Type::I32, s1_ty(), Type::I32, Type::I32], Type::I32),
        S1First => (vec![s1_ty(), Type::I32, Type::I32], Type::I32),
        After64 => (vec![Type::I32, Type::I64, Type::I32, Type::I32], Type::I32),
        FpRegs => (vec![Type::F32, Type::I32, Type::F64, Type::I16], Type::I32),
        Ptr => (vec![Type::POINTER, Type::I32], Type::POINTER),
        Cf => (vec![Type::F32, Type::F32], Type::complex_f32()),
        Cd => (vec![Type::F64, Type::F64], Type::complex_f64()),
        Void => (vec![Type::POINTER, Type::I64, Type::F32], Type::VOID),
    }
}

const ALL: [Shape; SHAPES] = [
    Shape::Ints,
    Shape::Fp,
    Shape::F32,
    Shape::Ld,
    Shape::I8,
    Shape::U16,
    Shape::S3,
    Shape::S8,
    Shape::Big,
    Shape::Regs,
    Shape::S1First,
    Shape::After64,
    Shape::FpRegs,
    Shape::Ptr,
    Shape::Cf,
    Shape::Cd,
    Shape::Void,
];

fn p<T>(value: &T) -> *mut c_void {
    (value as *const T).cast_mut().cast()
}

/// A return buffer larger and more aligned than any return type here, filled with 0xA5.
#[repr(C, align(16))]
struct RetBuf([u8; 64]);

impl RetBuf {
    fn new() -> Self {
        Self([0xA5; 64])
    }
    fn read<T: Copy>(&self) -> T {
        // SAFETY: 64 bytes hold every T read here.
        unsafe { self.0.as_ptr().cast::<T>().read_unaligned() }
    }
}

/// Calls `fun` through `cif` with `args`, returning the raw return buffer.
fn call(cif: &Cif, fun: *const c_void, args: &[*mut c_void]) -> RetBuf {
    assert_eq!(args.len(), cif.args().len());
    let mut ret = RetBuf::new();
    // SAFETY: every caller passes a C function of the Cif's signature and values of its
    // argument types.
    unsafe { cif.call_raw(CodePtr::new(fun), ret.0.as_mut_ptr().cast(), args.as_ptr()) };
    ret
}

/// `2^63 + 1` as an x87 extended value: representable in a `long double`, not in a double.
fn ld_big() -> LongDouble {
    ld_from_parts((1 << 63) | 1, 16383 + 63)
}

fn ld_from_parts(mant: u64, sign_exp: u16) -> LongDouble {
    let mut ld = LongDouble::default();
    ld.0[..8].copy_from_slice(&mant.to_le_bytes());
    ld.0[8..10].copy_from_slice(&sign_exp.to_le_bytes());
    ld
}

/// The eight integers of the `ints` shape.
type Ints = (i8, u8, i16, u16, i32, u32, i64, u64);

fn ints_formula((a, b, c, d, e, f, g, h): Ints) -> u64 {
    [
        (a as i64 as u64, 1u64),
        (b as u64, 3),
        (c as i64 as u64, 5),
        (d as u64, 7),
        (e as i64 as u64, 11),
        (f as u64, 13),
        (g as u64, 17),
        (h, 19),
    ]
    .iter()
    .fold(0u64, |acc, &(v, k)| acc.wrapping_add(v.wrapping_mul(k)))
}

const INTS: Ints = (
    -5,
    200,
    -3000,
    60000,
    -100000,
    3_000_000_000,
    -(1 << 40) - 7,
    (1 << 63) + 5,
);

/// Calls every shape's C callee through a Cif of `abi`.
fn check_calls(abi: Abi, table: &Table) {
    for shape in ALL {
        let (args, ret) = signature(shape);
        let cif = Cif::new(abi, args, ret).unwrap_or_else(|e| panic!("{abi:?} {shape:?}: {e}"));
        let fun = table[2 * shape as usize];
        let what = format!("{abi:?} {shape:?}");
        match shape {
            Shape::Ints => {
                let (a, b, c, d, e, f, g, h) = INTS;
                let r = call(
                    &cif,
                    fun,
                    &[p(&a), p(&b), p(&c), p(&d), p(&e), p(&f), p(&g), p(&h)],
                );
                assert_eq!(r.read::<u64>(), ints_formula(INTS), "{what}");
            }
            Shape::Fp => {
                let (a, b, c, d) = (1.5f32, -2.25f64, LongDouble::from_f64(0.125), 7i32);
                let r = call(&cif, fun, &[p(&a), p(&b), p(&c), p(&d)]);
                assert_eq!(r.read::<f64>(), 4.5, "{what}");
            }
            Shape::F32 => {
                let r = call(&cif, fun, &[p(&3i32), p(&1.25f32)]);
                assert_eq!(r.read::<f32>(), 3.75, "{what}");
            }
            Shape::Ld => {
                let a = ld_big();
                let r = call(&cif, fun, &[p(&a), p(&0i32)]);
                assert_eq!(
                    r.read::<LongDouble>(),
                    a,
                    "{what}: 64-bit mantissa round trip"
                );
                let r = call(&cif, fun, &[p(&a), p(&1i32)]);
                assert_eq!(r.read::<LongDouble>(), ld_from_parts(1 << 63, 16383 + 63));
            }
            Shape::I8 => {
                let r = call(&cif, fun, &[p(&-100i8), p(&27i8)]);
                assert_eq!(
                    r.read::<u32>(),
                    -127i32 as u32,
                    "{what}: sign-extended ffi_arg"
                );
                assert_eq!(r.0[4], 0xA5, "{what}: ffi_arg is 4 bytes on i386");
            }
            Shape::U16 => {
                let r = call(&cif, fun, &[p(&65000u16), p(&535u16)]);
                assert_eq!(r.read::<u32>(), 65535, "{what}: zero-extended ffi_arg");
            }
            Shape::S3 => {
                let s = S3 {
                    a: 10,
                    b: 20,
                    c: 30,
                };
                let r = call(&cif, fun, &[p(&s), p(&5i32)]);
                let want = S3 {
                    a: 15,
                    b: 30,
                    c: 45,
                };
                assert_eq!(r.read::<S3>(), want, "{what}");
                assert_eq!(r.0[3], 0xA5, "{what}: nothing written past the struct");
            }
            Shape::S8 => {
                let r = call(&cif, fun, &[p(&-21i32), p(&1000i32)]);
                assert_eq!(r.read::<S8>(), S8 { a: -42, b: 3000 }, "{what}");
            }
            Shape::Big => {
                let b = Big {
                    v: [1, 2, 3, 4, 5],
                    d: 0.5,
                };
                let r = call(&cif, fun, &[p(&b), p(&100i64), p(&8.0f64)]);
                let want = Big {
                    v: [101, 103, 105, 107, 109],
                    d: 4.0,
                };
                assert_eq!(r.read::<Big>(), want, "{what}");
            }
            Shape::Regs => {
                let r = call(&cif, fun, &[p(&4i32), p(&S1 { x: -3 }), p(&5i32), p(&6i32)]);
                assert_eq!(r.read::<i32>(), 6474, "{what}");
            }
            Shape::S1First => {
                let r = call(&cif, fun, &[p(&S1 { x: 9 }), p(&-5i32), p(&6i32)]);
                assert_eq!(r.read::<i32>(), 5509, "{what}");
            }
            Shape::After64 => {
                let b = (5i64 << 32) | 9;
                let r = call(&cif, fun, &[p(&1i32), p(&b), p(&11i32), p(&13i32)]);
                assert_eq!(r.read::<i32>(), 184, "{what}");
            }
            Shape::FpRegs => {
                let r = call(
                    &cif,
                    fun,
                    &[p(&2.5f32), p(&-7i32), p(&1.25f64), p(&-300i16)],
                );
                assert_eq!(r.read::<i32>(), -1511, "{what}");
            }
            Shape::Ptr => {
                let buf = [0u8; 32];
                let base = buf.as_ptr();
                let r = call(&cif, fun, &[p(&base), p(&12i32)]);
                assert_eq!(r.read::<*const u8>(), base.wrapping_add(12), "{what}");
            }
            Shape::Cf => {
                let r = call(&cif, fun, &[p(&1.5f32), p(&-2.0f32)]);
                assert_eq!(r.read::<[f32; 2]>(), [3.0, -6.0], "{what}");
            }
            Shape::Cd => {
                let r = call(&cif, fun, &[p(&0.25f64), p(&4.0f64)]);
                assert_eq!(r.read::<[f64; 2]>(), [4.0, 0.25], "{what}");
            }
            Shape::Void => {
                let mut out = 0i32;
                let ptr = &mut out as *mut i32;
                call(&cif, fun, &[p(&ptr), p(&40i64), p(&2.0f32)]);
                assert_eq!(out, 42, "{what}");
            }
        }
        // The result may be discarded: x87 values are still popped, struct returns get a
        // scratch buffer.
        if matches!(shape, Shape::F32 | Shape::Ld | Shape::Big) {
            for _ in 0..10 {
                discard(&cif, fun, shape);
            }
        }
    }
}

/// Calls `fun` with a null return buffer (ten times in a row: a value left on the x87
/// stack would overflow it and turn later results into NaNs).
fn discard(cif: &Cif, fun: *const c_void, shape: Shape) {
    let big = Big { v: [0; 5], d: 1.0 };
    let ld = ld_big();
    let args: Vec<*mut c_void> = match shape {
        Shape::F32 => vec![p(&1i32), p(&1.0f32)],
        Shape::Ld => vec![p(&ld), p(&1i32)],
        _ => vec![p(&big), p(&1i64), p(&1.0f64)],
    };
    // SAFETY: `fun` has the Cif's signature; a null rvalue discards the result.
    unsafe { cif.call_raw(CodePtr::new(fun), core::ptr::null_mut(), args.as_ptr()) };
    let r = call(cif, fun, &args);
    if let Shape::F32 = shape {
        assert_eq!(r.read::<f32>(), 1.0, "the x87 stack is balanced");
    }
}

/// Reads argument `i` as a `T` (the layouts are the Cif's).
fn get<T: Copy>(args: &Args<'_>, i: usize) -> T {
    // SAFETY: each closure below reads every argument at the type of its Cif.
    unsafe { args.get_unchecked::<T>(i) }
}

/// Stores `value` as the return value.
fn set<T: Copy>(ret: Ret<'_>, value: T) {
    assert!(core::mem::size_of::<T>() <= ret.ty().size().max(4));
    // SAFETY: the buffer holds the return type, which is T's.
    unsafe { ret.as_ptr().cast::<T>().write_unaligned(value) }
}

/// What the closure of `shape` computes from its arguments, after checking each of them
/// against what the C caller passes.
fn closure_body(shape: Shape, args: &Args<'_>, ret: Ret<'_>) {
    match shape {
        Shape::Ints => {
            let got = (
                get::<i8>(args, 0),
                get::<u8>(args, 1),
                get::<i16>(args, 2),
                get::<u16>(args, 3),
                get::<i32>(args, 4),
                get::<u32>(args, 5),
                get::<i64>(args, 6),
                get::<u64>(args, 7),
            );
            assert_eq!(got, INTS);
            set(ret, ints_formula(got));
        }
        Shape::Fp => {
            let (a, b, c, d) = (
                get::<f32>(args, 0),
                get::<f64>(args, 1),
                get::<LongDouble>(args, 2),
                get::<i32>(args, 3),
            );
            assert_eq!((a, b, c, d), (1.5, -2.25, LongDouble::from_f64(0.125), 7));
            set(ret, a as f64 + b * 2.0 + c.to_f64() * 4.0 + d as f64);
        }
        Shape::F32 => {
            let (a, b) = (get::<i32>(args, 0), get::<f32>(args, 1));
            assert_eq!((a, b), (3, 1.25));
            set(ret, a as f32 * b);
        }
        Shape::Ld => {
            let (a, b) = (get::<LongDouble>(args, 0), get::<i32>(args, 1));
            assert_eq!(a, ld_big());
            // Returns a - b for b = 0 (the argument itself) and b = 1.
            set(
                ret,
                match b {
                    0 => a,
                    _ => ld_from_parts(1 << 63, 16383 + 63),
                },
            );
        }
        Shape::I8 => {
            let (a, b) = (get::<i8>(args, 0), get::<i8>(args, 1));
            assert_eq!((a, b), (-100, 27));
            set(ret, a.wrapping_sub(b));
        }
        Shape::U16 => {
            let (a, b) = (get::<u16>(args, 0), get::<u16>(args, 1));
            assert_eq!((a, b), (65000, 535));
            set(ret, a.wrapping_add(b));
        }
        Shape::S3 => {
            let (s, k) = (get::<S3>(args, 0), get::<i32>(args, 1));
            assert_eq!(
                (s, k),
                (
                    S3 {
                        a: 10,
                        b: 20,
                        c: 30
                    },
                    5
                )
            );
            let k = k as u8;
            set(
                ret,
                S3 {
                    a: s.a + k,
                    b: s.b + 2 * k,
                    c: s.c + 3 * k,
                },
            );
        }
        Shape::S8 => {
            let (a, b) = (get::<i32>(args, 0), get::<i32>(args, 1));
            assert_eq!((a, b), (-21, 1000));
            set(ret, S8 { a: a * 2, b: b * 3 });
        }
        Shape::Big => {
            let (b, k, d) = (
                get::<Big>(args, 0),
                get::<i64>(args, 1),
                get::<f64>(args, 2),
            );
            assert_eq!((b.v, b.d, k, d), ([1, 2, 3, 4, 5], 0.5, 100, 8.0));
            let mut v = b.v;
            for (i, x) in v.iter_mut().enumerate() {
                *x += k as i32 + i as i32;
            }
            set(ret, Big { v, d: b.d * d });
        }
        Shape::Regs => {
            let got = (
                get::<i32>(args, 0),
                get::<S1>(args, 1).x,
                get::<i32>(args, 2),
                get::<i32>(args, 3),
            );
            assert_eq!(got, (4, -3, 5, 6));
            set(ret, got.0 + got.1 as i32 * 10 + got.2 * 100 + got.3 * 1000);
        }
        Shape::S1First => {
            let got = (
                get::<S1>(args, 0).x,
                get::<i32>(args, 1),
                get::<i32>(args, 2),
            );
            assert_eq!(got, (9, -5, 6));
            set(ret, got.0 as i32 + got.1 * 100 + got.2 * 1000);
        }
        Shape::After64 => {
            let got = (
                get::<i32>(args, 0),
                get::<i64>(args, 1),
                get::<i32>(args, 2),
                get::<i32>(args, 3),
            );
            assert_eq!(got, (1, (5 << 32) | 9, 11, 13));
            let (a, b, c, d) = got;
            set(ret, a + (b >> 32) as i32 * 2 + b as i32 * 3 + c * 5 + d * 7);
        }
        Shape::FpRegs => {
            let got = (
                get::<f32>(args, 0),
                get::<i32>(args, 1),
                get::<f64>(args, 2),
                get::<i16>(args, 3),
            );
            assert_eq!(got, (2.5, -7, 1.25, -300));
            let (a, b, c, d) = got;
            set(
                ret,
                (a * 2.0) as i32 + b * 3 + (c * 4.0) as i32 + d as i32 * 5,
            );
        }
        Shape::Ptr => {
            let (ptr, off) = (get::<*const u8>(args, 0), get::<i32>(args, 1));
            assert_eq!(off, 12);
            set(ret, ptr.wrapping_add(off as usize));
        }
        Shape::Cf => {
            let (re, im) = (get::<f32>(args, 0), get::<f32>(args, 1));
            assert_eq!((re, im), (1.5, -2.0));
            set(ret, [re * 2.0, im * 3.0]);
        }
        Shape::Cd => {
            let (re, im) = (get::<f64>(args, 0), get::<f64>(args, 1));
            assert_eq!((re, im), (0.25, 4.0));
            set(ret, [im, re]);
        }
        Shape::Void => {
            let (out, v, f) = (
                get::<*mut i32>(args, 0),
                get::<i64>(args, 1),
                get::<f32>(args, 2),
            );
            assert_eq!((v, f), (40, 2.0));
            // SAFETY: the C caller passes the address of its local.
            unsafe { *out = v as i32 + f as i32 };
        }
    }
}

/// Has the C caller of every shape call a closure of `abi`, and checks what it returns.
fn check_closures(abi: Abi, table: &Table) {
    for shape in ALL {
        let (args, ret) = signature(shape);
        let cif = Cif::new(abi, args, ret).unwrap();
        let calls = Cell::new(0);
        let closure = Closure::new(cif, |args, ret| {
            calls.set(calls.get() + 1);
            closure_body(shape, args, ret);
        })
        .unwrap();
        let code = closure.code_ptr().as_ptr();
        let caller = table[2 * shape as usize + 1];
        let what = format!("{abi:?} {shape:?}");
        // SAFETY: each caller takes the function pointer (and, for some shapes, plain
        // values) with the cdecl convention and returns what its declaration in
        // dynamic_i386.c says.
        unsafe {
            match shape {
                Shape::Ints => {
                    let f: extern "C" fn(*const c_void) -> u64 = core::mem::transmute(caller);
                    assert_eq!(f(code), ints_formula(INTS), "{what}");
                }
                Shape::Fp => {
                    let f: extern "C" fn(*const c_void) -> f64 = core::mem::transmute(caller);
                    assert_eq!(f(code), 4.5, "{what}");
                }
                Shape::F32 => {
                    let f: extern "C" fn(*const c_void) -> f32 = core::mem::transmute(caller);
                    for _ in 0..10 {
                        assert_eq!(f(code), 3.75, "{what}");
                    }
                }
                Shape::Ld => {
                    type F = extern "C" fn(*const c_void, *const LongDouble, i32, *mut LongDouble);
                    let f: F = core::mem::transmute(caller);
                    let a = ld_big();
                    for (b, want) in [(0, a), (1, ld_from_parts(1 << 63, 16383 + 63))] {
                        for _ in 0..10 {
                            let mut out = LongDouble::default();
                            f(code, &a, b, &mut out);
                            assert_eq!(out, want, "{what} b = {b}");
                        }
                    }
                }
                Shape::I8 => {
                    let f: extern "C" fn(*const c_void) -> i32 = core::mem::transmute(caller);
                    assert_eq!(f(code), -127, "{what}");
                }
                Shape::U16 => {
                    let f: extern "C" fn(*const c_void) -> u32 = core::mem::transmute(caller);
                    assert_eq!(f(code), 65535, "{what}");
                }
                Shape::S3 => {
                    let f: extern "C" fn(*const c_void) -> u32 = core::mem::transmute(caller);
                    assert_eq!(f(code), 15 | 30 << 8 | 45 << 16, "{what}");
                }
                Shape::S8 => {
                    let f: extern "C" fn(*const c_void) -> i64 = core::mem::transmute(caller);
                    assert_eq!(f(code), -42 * 100_000 + 3000, "{what}");
                }
                Shape::Big => {
                    let f: extern "C" fn(*const c_void) -> f64 = core::mem::transmute(caller);
                    assert_eq!(f(code), 1599.0, "{what}");
                }
                Shape::Regs | Shape::S1First | Shape::After64 | Shape::FpRegs | Shape::Void => {
                    let f: extern "C" fn(*const c_void) -> i32 = core::mem::transmute(caller);
                    let want = match shape {
                        Shape::Regs => 6474,
                        Shape::S1First => 5509,
                        Shape::After64 => 184,
                        Shape::FpRegs => -1511,
                        _ => 42,
                    };
                    assert_eq!(f(code), want, "{what}");
                }
                Shape::Ptr => {
                    type F = extern "C" fn(*const c_void, *const u8) -> *const u8;
                    let f: F = core::mem::transmute(caller);
                    let buf = [0u8; 16];
                    assert_eq!(
                        f(code, buf.as_ptr()),
                        buf.as_ptr().wrapping_add(12),
                        "{what}"
                    );
                }
                Shape::Cf => {
                    let f: extern "C" fn(*const c_void) -> f32 = core::mem::transmute(caller);
                    assert_eq!(f(code), 24.0, "{what}");
                }
                Shape::Cd => {
                    let f: extern "C" fn(*const c_void) -> f64 = core::mem::transmute(caller);
                    assert_eq!(f(code), 40.25, "{what}");
                }
            }
        }
        // Exactly as often as the caller calls: a wrong pop can make a C caller return into
        // itself (to the return address of its PIC thunk call) and call again.
        let expected = match shape {
            Shape::F32 => 10,
            Shape::Ld => 20,
            _ => 1,
        };
        assert_eq!(calls.get(), expected, "{what}: closure calls");
    }
}

macro_rules! convention_tests {
    ($($name:ident: $abi:expr, $table:ident;)*) => {$(
        mod $name {
            use super::*;

            #[test]
            fn calls() {
                // SAFETY: the table is a constant array of the C peer.
                check_calls($abi, unsafe { &$table });
            }

            #[test]
            fn closures() {
                // SAFETY: as above.
                check_closures($abi, unsafe { &$table });
            }
        }
    )*};
}

convention_tests! {
    cdecl: Abi::SysV, i386_cdecl_table;
    stdcall: Abi::StdCall, i386_stdcall_table;
    fastcall: Abi::FastCall, i386_fastcall_table;
    thiscall: Abi::ThisCall, i386_thiscall_table;
    ms_cdecl: Abi::MsCdecl, i386_mscdecl_table;
}

#[test]
fn default_abi_is_sysv() {
    assert_eq!(Abi::DEFAULT, Abi::SysV);
}

/// The variadic signature `i386_vfmt("idlip", 3, -0.5, -(1 << 40), 77, 0x1000)`.
fn vfmt_cif(abi: Abi) -> Result<Cif, CifError> {
    let args = [
        Type::POINTER,
        Type::I32,
        Type::F64,
        Type::I64,
        Type::I32,
        Type::POINTER,
    ];
    Cif::new_variadic(abi, args, 1, Type::F64)
}

const VFMT: f64 = 3.0 - 1.0 - 3.0 * (1u64 << 40) as f64 + 4.0 * 77.0 + 5.0 * 4096.0;

#[test]
fn variadic_calls_and_closures() {
    let cif = vfmt_cif(Abi::SysV).unwrap();
    let fmt = c"idlip".as_ptr();
    let (i, d, l, j, ptr) = (
        3i32,
        -0.5f64,
        -(1i64 << 40),
        77i32,
        0x1000usize as *const u8,
    );
    let r = call(
        &cif,
        i386_vfmt as *const c_void,
        &[p(&fmt), p(&i), p(&d), p(&l), p(&j), p(&ptr)],
    );
    assert_eq!(r.read::<f64>(), VFMT);

    let closure = Closure::new(cif, |args, ret| {
        // SAFETY: the C caller passes a NUL-terminated string.
        let fmt = unsafe { std::ffi::CStr::from_ptr(get::<*const core::ffi::c_char>(args, 0)) };
        assert_eq!(fmt.to_bytes(), b"idlip");
        let got = (
            get::<i32>(args, 1),
            get::<f64>(args, 2),
            get::<i64>(args, 3),
            get::<i32>(args, 4),
            get::<usize>(args, 5),
        );
        assert_eq!(got, (3, -0.5, -(1 << 40), 77, 0x1000));
        set(ret, VFMT);
    })
    .unwrap();
    // SAFETY: the caller takes a variadic cdecl function pointer.
    assert_eq!(unsafe { i386_call_vfmt(closure.code_ptr().as_ptr()) }, VFMT);
    assert!(vfmt_cif(Abi::MsCdecl).is_ok());
}

#[test]
fn pascal_calls_and_closures() {
    let cif = Cif::new(Abi::Pascal, [Type::I32, Type::I64, Type::I16], Type::I32).unwrap();
    assert_eq!(cif.plan().callee_pop, 16);
    let (a, b, c) = (1000i32, (7i64 << 32) | 40, -2i16);
    let r = call(
        &cif,
        i386_pascal_sub as *const c_void,
        &[p(&a), p(&b), p(&c)],
    );
    let want = 1000 * 3 - 7 * 5 + 40 + 2;
    assert_eq!(r.read::<i32>(), want);

    let closure = Closure::new(cif, |args, ret| {
        let got = (
            get::<i32>(args, 0),
            get::<i64>(args, 1),
            get::<i16>(args, 2),
        );
        assert_eq!(got, (1000, (7 << 32) | 40, -2));
        let (a, b, c) = got;
        set(ret, a * 3 - (b >> 32) as i32 * 5 + b as i32 - c as i32);
    })
    .unwrap();
    // SAFETY: the assembly caller calls a pascal function of this signature.
    let got = unsafe { i386_call_pascal_sub(closure.code_ptr().as_ptr()) };
    assert_eq!(
        got, want,
        "0x7fffffff: the closure popped the wrong byte count"
    );
}

/// The double the assembly caller of `register_mix` passes (both halves significant).
const REGISTER_D: f64 = f64::from_bits(0x4029_1234_5678_9abc);

fn register_mix(a: i32, d: f64, b: i8, p: usize, c: i32, f: f32) -> i32 {
    let bits = d.to_bits();
    (a + 2 * b as i32 + 3 * c + p as i32)
        ^ f.to_bits() as i32
        ^ bits as u32 as i32
        ^ (bits >> 32) as u32 as i32
}

#[test]
fn register_calls_and_closures() {
    let sig = [
        Type::I32,
        Type::F64,
        Type::I8,
        Type::POINTER,
        Type::I32,
        Type::F32,
    ];
    let cif = Cif::new(Abi::Register, sig, Type::I32).unwrap();
    assert_eq!(cif.plan().callee_pop, 16);
    let (a, d, b, ptr, c, f) = (100i32, REGISTER_D, -3i8, 0x1000usize, -7i32, 1.5f32);
    let r = call(
        &cif,
        i386_register_mix as *const c_void,
        &[p(&a), p(&d), p(&b), p(&ptr), p(&c), p(&f)],
    );
    let want = register_mix(a, d, b, ptr, c, f);
    assert_eq!(r.read::<i32>(), want);

    let closure = Closure::new(cif, |args, ret| {
        let got = (
            get::<i32>(args, 0),
            get::<f64>(args, 1),
            get::<i8>(args, 2),
            get::<usize>(args, 3),
            get::<i32>(args, 4),
            get::<f32>(args, 5),
        );
        assert_eq!(got, (100, REGISTER_D, -3, 0x1000, -7, 1.5));
        let (a, d, b, ptr, c, f) = got;
        set(ret, register_mix(a, d, b, ptr, c, f));
    })
    .unwrap();
    // SAFETY: the assembly caller calls a register-convention function of this signature.
    let got = unsafe { i386_call_register_mix(closure.code_ptr().as_ptr()) };
    assert_eq!(
        got, want,
        "0x7fffffff: the closure popped the wrong byte count"
    );

    // A long double result and a 64-bit integer on the stack.
    let cif = Cif::new(Abi::Register, [Type::I32, Type::I64], Type::LONG_DOUBLE).unwrap();
    let r = call(
        &cif,
        i386_register_ld as *const c_void,
        &[p(&5i32), p(&(1i64 << 62))],
    );
    assert_eq!(
        r.read::<LongDouble>(),
        ld_from_parts(((1 << 62) + 5) << 1, 16383 + 62)
    );
}

#[test]
fn refusals_are_errors() {
    let s8 = s8_ty();
    for abi in [Abi::Pascal, Abi::Register] {
        assert_eq!(
            Cif::new(abi, [], s8.clone()).unwrap_err(),
            CifError::BadReturnType(ValueTypeError::Unsupported)
        );
    }
    for abi in [
        Abi::StdCall,
        Abi::FastCall,
        Abi::ThisCall,
        Abi::Pascal,
        Abi::Register,
    ] {
        assert!(matches!(
            vfmt_cif(abi),
            Err(CifError::BadArgType {
                reason: ValueTypeError::NotVariadicAbi,
                ..
            })
        ));
    }
    assert_eq!(
        Cif::new(Abi::SysV, [Type::I128], Type::VOID).unwrap_err(),
        CifError::BadArgType {
            index: 0,
            reason: ValueTypeError::Unsupported
        }
    );
    for abi in [Abi::SysV64, Abi::Win64] {
        assert_eq!(
            Cif::new(abi, [], Type::VOID).unwrap_err(),
            CifError::BadAbi(abi.to_raw())
        );
    }
    // A Cif reset to a foreign ABI describes `() -> void` in the default ABI afterwards.
    let mut cif = Cif::new(Abi::StdCall, [Type::I32], Type::I32).unwrap();
    assert!(cif.reset(Abi::SysV64, [Type::I32], Type::I32).is_err());
    assert_eq!((cif.abi(), cif.args().len()), (Abi::DEFAULT, 0));
}

#[test]
fn libffi_abi_numbers() {
    let table = [
        (1, Abi::SysV),
        (3, Abi::ThisCall),
        (4, Abi::FastCall),
        (5, Abi::StdCall),
        (6, Abi::Pascal),
        (7, Abi::Register),
        (8, Abi::MsCdecl),
    ];
    for (raw, abi) in table {
        assert_eq!(Abi::from_raw(raw), Ok(abi));
        assert_eq!(abi.to_raw(), raw);
    }
    for raw in [0, 2, 9, 100] {
        assert_eq!(Abi::from_raw(raw), Err(CifError::BadAbi(raw)));
    }
}

extern "stdcall" fn rust_stdcall(a: i32, b: i64, c: f64) -> f64 {
    a as f64 + b as f64 * 2.0 + c * 4.0
}

extern "fastcall" fn rust_fastcall(a: i8, b: i32, c: u16, d: i64) -> i64 {
    a as i64 + b as i64 * 10 + c as i64 * 100 + d * 1000
}

extern "thiscall" fn rust_thiscall(this: *const i32, b: i32, c: f32) -> i32 {
    // SAFETY: the tests pass the address of an i32.
    unsafe { *this + b * 2 + c as i32 }
}

/// Rust's own `extern "stdcall"`, `"fastcall"` and `"thiscall"` as a second reference,
/// through typed Cifs and typed closures.
#[test]
fn rust_conventions_through_the_typed_layer() {
    let std = TypedCif::<extern "stdcall" fn(i32, i64, f64) -> f64>::new().unwrap();
    // SAFETY: calling a safe function.
    assert_eq!(unsafe { std.call(rust_stdcall, (1, -3, 0.5)) }, -3.0);
    let fast = TypedCif::<extern "fastcall" fn(i8, i32, u16, i64) -> i64>::new().unwrap();
    // SAFETY: as above.
    let r = unsafe { fast.call(rust_fastcall, (-1, 2, 3, 4)) };
    assert_eq!(r, -1 + 20 + 300 + 4000);
    let this = TypedCif::<extern "thiscall" fn(*const i32, i32, f32) -> i32>::new().unwrap();
    let seven = 7;
    // SAFETY: as above; the pointer is valid.
    assert_eq!(unsafe { this.call(rust_thiscall, (&seven, 5, 2.5)) }, 19);

    let k = 3i64;
    let closure = TypedClosure::<extern "fastcall" fn(i8, i32, u16, i64) -> i64, _>::new(
        move |a: i8, b: i32, c: u16, d: i64| a as i64 + b as i64 * 10 + c as i64 * 100 + d * k,
    )
    .unwrap();
    // SAFETY: the closure outlives the pointer's use.
    let f = unsafe { closure.fn_ptr() };
    assert_eq!(f(-1, 2, 3, 4), -1 + 20 + 300 + 12);
    let closure = TypedClosure::<extern "stdcall" fn(i32, i64, f64) -> f64, _>::new(
        |a: i32, b: i64, c: f64| a as f64 + b as f64 * 2.0 + c * 4.0,
    )
    .unwrap();
    // SAFETY: as above.
    let f = unsafe { closure.fn_ptr() };
    for _ in 0..3 {
        assert_eq!(f(1, -3, 0.5), -3.0);
    }
    // Rust returns a long double (a 12-byte struct to Rust) through memory, C in st(0).
    assert!(matches!(
        TypedCif::<extern "C" fn(i32) -> LongDouble>::new(),
        Err(CifError::BadReturnType(ValueTypeError::NoRustEquivalent))
    ));
}
