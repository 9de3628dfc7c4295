//! Execution tests of the aarch64 dynamic layer (AAPCS64) against
//! `test-support/c/dynamic_aarch64.c`: every shape the classifier distinguishes (integers of
//! every width, float/double/long double, HFAs of 1-4 members, small composites in x
//! registers, 16-byte-aligned values in even pairs, large composites by reference and
//! returned through x8, x and v register exhaustion, variadic calls), called through a Cif
//! and implemented by a closure that gcc-compiled C calls.
//!
//! Every value is checked against the formula the C peer computes (written out again
//! here), and closures record each argument they receive for the test to check.

#![cfg(all(target_arch = "aarch64", target_os = "linux"))]

use core::ffi::c_void;
use std::cell::{Cell, RefCell};

use closure_ffi::dynamic::plan::ValueTypeError;
use closure_ffi::dynamic::{
    Abi, Args, CType, Cif, CifError, Closure, CodePtr, Complex, LongDouble, Ret, Type, TypedCif,
    TypedClosure,
};
// Links the C peer (test-support/c/dynamic_aarch64.c).
use closure_ffi_test_support as _;

macro_rules! c_structs {
    ($($name:ident { $($f:ident: $t:ty),* } => [$($ty:expr),*];)*) => {$(
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq)]
        struct $name { $($f: $t),* }
        // SAFETY: the Type lists the repr(C) fields in order.
        unsafe impl CType for $name {
            fn ffi_type() -> Type {
                Type::structure([$($ty),*]).unwrap()
            }
        }
    )*};
}

c_structs! {
    F1 { a: f32 } => [Type::F32];
    F2 { a: f32, b: f32 } => [Type::F32, Type::F32];
    F3 { a: f32, b: f32, c: f32 } => [Type::F32, Type::F32, Type::F32];
    F4 { a: f32, b: f32, c: f32, d: f32 } => [Type::F32, Type::F32, Type::F32, Type::F32];
    D1 { a: f64 } => [Type::F64];
    D2 { a: [f64; 2] } => [Type::array(Type::F64, 2).unwrap()];
    D3 { a: [f64; 2], b: f64 } => [Type::array(Type::F64, 2).unwrap(), Type::F64];
    D4 { a: f64, b: f64, c: f64, d: f64 } => [Type::F64, Type::F64, Type::F64, Type::F64];
    L2 { a: LongDouble, b: LongDouble } => [Type::LONG_DOUBLE, Type::LONG_DOUBLE];
    Fi { f: f32, i: i32 } => [Type::F32, Type::I32];
    S3 { a: u8, b: u8, c: u8 } => [Type::U8, Type::U8, Type::U8];
    Mix16 { c: i8, s: i16, i: i32, d: f64 } => [Type::I8, Type::I16, Type::I32, Type::F64];
    I128S { v: i128 } => [Type::I128];
    Big { v: [i64; 3], d: f64 } => [Type::array(Type::I64, 3).unwrap(), Type::F64];
}

macro_rules! c_functions {
    ($($name:ident),*) => {
        extern "C" {
            // Declared untyped: only their addresses are taken, and calls go through Cifs.
            $(fn $name();)*
        }
    };
}

c_functions!(
    a64_ints,
    a64_ret_i8,
    a64_ret_u8,
    a64_ret_i16,
    a64_ret_u16,
    a64_ret_i32,
    a64_ret_u32,
    a64_ret_ptr,
    a64_fp,
    a64_ld,
    a64_ret_f,
    a64_f1,
    a64_f2,
    a64_f3,
    a64_f4,
    a64_d1,
    a64_d2,
    a64_d3,
    a64_d4,
    a64_l2,
    a64_cf,
    a64_cd,
    a64_mix,
    a64_fi,
    a64_s3,
    a64_i128,
    a64_i128s,
    a64_big,
    a64_exh_v,
    a64_exh_x,
    a64_exh_i128,
    a64_vfmt,
    a64_call_l2,
    a64_upad
);

extern "C" {
    // The callers, called directly: each signature is one Rust passes as C does.
    fn a64_call_ints(fp: CodePtr) -> i64;
    fn a64_call_narrow(
        a: CodePtr,
        b: CodePtr,
        c: CodePtr,
        d: CodePtr,
        e: CodePtr,
        f: CodePtr,
    ) -> i64;
    fn a64_call_fp(fp: CodePtr) -> f64;
    fn a64_call_ld(fp: CodePtr) -> i32;
    fn a64_call_f3(fp: CodePtr) -> F3;
    fn a64_call_f4(fp: CodePtr) -> F4;
    fn a64_call_d3(fp: CodePtr) -> D3;
    fn a64_call_d4(fp: CodePtr) -> D4;
    fn a64_call_cf(fp: CodePtr) -> Complex<f32>;
    fn a64_call_mix(fp: CodePtr) -> Mix16;
    fn a64_call_i128(fp: CodePtr) -> i128;
    fn a64_call_i128s(fp: CodePtr) -> I128S;
    fn a64_call_big(fp: CodePtr) -> i32;
    fn a64_call_exh_v(fp: CodePtr) -> f64;
    fn a64_call_exh_x(fp: CodePtr) -> i64;
    fn a64_call_exh_i128(fp: CodePtr) -> i64;
    fn a64_call_vfmt(fp: CodePtr) -> f64;
}

/// Calls the C `caller` with a closure's code: every test passes a closure with the
/// signature that caller calls.
fn via<R>(caller: unsafe extern "C" fn(CodePtr) -> R, closure: CodePtr) -> R {
    // SAFETY: `closure` has the signature `caller` calls (each test's contract) and lives
    // across the call.
    unsafe { caller(closure) }
}

fn code(f: unsafe extern "C" fn()) -> CodePtr {
    CodePtr::new(f as *const c_void)
}

/// The address of a value, as `call_raw` takes it.
fn p<T>(value: &T) -> *mut c_void {
    (value as *const T).cast_mut().cast()
}

/// Calls `fun` through `cif` with the argument addresses `args`, returning an `R`.
fn call<R: Copy>(cif: &Cif, fun: CodePtr, args: &[*mut c_void]) -> R {
    assert_eq!(args.len(), cif.args().len());
    #[repr(C, align(16))]
    struct Buf([u8; 64]);
    let mut buf = Buf([0xAA; 64]);
    assert!(core::mem::size_of::<R>() <= 64);
    // SAFETY: the test's Cifs describe the C functions they call, the arguments point to
    // values of the Cif's types, and the buffer holds any return type here.
    unsafe {
        cif.call_raw(fun, buf.0.as_mut_ptr().cast(), args.as_ptr());
        buf.0.as_ptr().cast::<R>().read()
    }
}

/// A binary128 value from its sign, biased exponent and the top bits of its fraction
/// (`frac` is the 112-bit fraction field).
fn quad(negative: bool, exp: u16, frac: u128) -> LongDouble {
    let bits = (u128::from(negative) << 127) | (u128::from(exp) << 112) | frac;
    LongDouble(bits.to_le_bytes())
}

/// 1 + 2^-100: no `double` holds it.
fn one_plus_tiny() -> LongDouble {
    quad(false, 0x3FFF, 1 << 12)
}

fn ints_formula(a: (i8, u8, i16, u16, i32, u32, i64, u64, i8, u16)) -> i64 {
    let terms = [
        a.0 as i64 as u64,
        u64::from(a.1),
        a.2 as i64 as u64,
        u64::from(a.3),
        a.4 as i64 as u64,
        u64::from(a.5),
        a.6 as u64,
        a.7,
        a.8 as i64 as u64,
        u64::from(a.9),
    ];
    terms.iter().enumerate().fold(0u64, |s, (k, &t)| {
        s.wrapping_add((k as u64 + 1).wrapping_mul(t))
    }) as i64
}

fn ints_types() -> [Type; 10] {
    use Type as T;
    [
        T::I8,
        T::U8,
        T::I16,
        T::U16,
        T::I32,
        T::U32,
        T::I64,
        T::U64,
        T::I8,
        T::U16,
    ]
}

#[test]
fn integers_of_every_width_including_the_stack() {
    let cif = Cif::new(Abi::DEFAULT, ints_types(), Type::I64).unwrap();
    let a = (
        -3i8,
        250u8,
        -1234i16,
        65000u16,
        -5i32,
        3_000_000_000u32,
        -77i64,
        u64::MAX - 1,
        -128i8,
        40000u16,
    );
    let args = [
        p(&a.0),
        p(&a.1),
        p(&a.2),
        p(&a.3),
        p(&a.4),
        p(&a.5),
        p(&a.6),
        p(&a.7),
        p(&a.8),
        p(&a.9),
    ];
    assert_eq!(call::<i64>(&cif, code(a64_ints), &args), ints_formula(a));
    // The same through the checked call.
    use closure_ffi::dynamic::arg;
    // SAFETY: the Cif describes a64_ints and the arguments have its types.
    let checked: i64 = unsafe {
        cif.call(
            code(a64_ints),
            &[
                arg(&a.0),
                arg(&a.1),
                arg(&a.2),
                arg(&a.3),
                arg(&a.4),
                arg(&a.5),
                arg(&a.6),
                arg(&a.7),
                arg(&a.8),
                arg(&a.9),
            ],
        )
    }
    .unwrap();
    assert_eq!(checked, ints_formula(a));
}

#[test]
fn narrow_results_are_widened_to_ffi_arg() {
    let x: i64 = 0x1234_5678_9abc_de80u64 as i64;
    let cases: [(unsafe extern "C" fn(), Type, u64); 6] = [
        (a64_ret_i8, Type::I8, 0x80u8 as i8 as i64 as u64),
        (a64_ret_u8, Type::U8, 0x80),
        (a64_ret_i16, Type::I16, 0xde80u16 as i16 as i64 as u64),
        (a64_ret_u16, Type::U16, 0xde80),
        (a64_ret_i32, Type::I32, 0x9abc_de80u32 as i32 as i64 as u64),
        (a64_ret_u32, Type::U32, 0x9abc_de80),
    ];
    for (fun, ty, want) in cases {
        let cif = Cif::new(Abi::DEFAULT, [Type::I64], ty.clone()).unwrap();
        assert_eq!(call::<u64>(&cif, code(fun), &[p(&x)]), want, "{ty:?}");
    }
    let cif = Cif::new(Abi::DEFAULT, [Type::POINTER, Type::I64], Type::POINTER).unwrap();
    let base = 0x1000usize as *const u8;
    let got: usize = call(&cif, code(a64_ret_ptr), &[p(&base), p(&24i64)]);
    assert_eq!(got, 0x1018);
}

#[test]
fn a_union_with_a_padded_member_is_no_hfa() {
    // union { float f[2]; struct { float x; } __attribute__((aligned(8))) p; }: 8 bytes,
    // two floats at most, but the padded member disqualifies it, so it travels in x0.
    #[repr(C, align(8))]
    #[derive(Clone, Copy)]
    struct UPad([f32; 2]);
    let pad_f = Type::structure([Type::F32]).unwrap().aligned(8).unwrap();
    let upad = Type::union([Type::array(Type::F32, 2).unwrap(), pad_f]).unwrap();
    let cif = Cif::new(Abi::DEFAULT, [Type::F32, upad.clone()], upad).unwrap();
    let (k, u) = (2.5f32, UPad([1.5, -4.0]));
    let got: UPad = call(&cif, code(a64_upad), &[p(&k), p(&u)]);
    assert_eq!(got.0, [k * u.0[1], k + u.0[0]]);
}

#[test]
fn floats_doubles_and_long_doubles_past_v7() {
    use Type as T;
    let types = [
        T::F32,
        T::F64,
        T::LONG_DOUBLE,
        T::F32,
        T::F64,
        T::F64,
        T::F64,
        T::F64,
        T::F32,
        T::LONG_DOUBLE,
        T::F64,
    ];
    let cif = Cif::new(Abi::DEFAULT, types, T::F64).unwrap();
    let (a, b, c, d) = (1.5f32, -2.25f64, LongDouble::from_f64(3.0), 0.125f32);
    let e = [5.0f64, 6.0, 7.0, 8.0];
    let (f, g, h) = (-9.5f32, LongDouble::from_f64(0.75), 11.0f64);
    let args = [
        p(&a),
        p(&b),
        p(&c),
        p(&d),
        p(&e[0]),
        p(&e[1]),
        p(&e[2]),
        p(&e[3]),
        p(&f),
        p(&g),
        p(&h),
    ];
    let want = 1.5
        + 2.0 * -2.25
        + 3.0 * 3.0
        + 4.0 * 0.125
        + 5.0 * 5.0
        + 6.0 * 6.0
        + 7.0 * 7.0
        + 8.0 * 8.0
        + 9.0 * -9.5
        + 10.0 * 0.75
        + 11.0 * 11.0;
    assert_eq!(call::<f64>(&cif, code(a64_fp), &args), want);

    // long double keeps all 113 bits both ways: a * 2 - b = 1.5 + 2^-99.
    let cif = Cif::new(
        Abi::DEFAULT,
        [T::LONG_DOUBLE, T::LONG_DOUBLE],
        T::LONG_DOUBLE,
    )
    .unwrap();
    let half = LongDouble::from_f64(0.5);
    let got: LongDouble = call(&cif, code(a64_ld), &[p(&one_plus_tiny()), p(&half)]);
    assert_eq!(got, quad(false, 0x3FFF, (1 << 111) | (1 << 13)));
    assert_eq!(got.to_f64(), 1.5);

    let cif = Cif::new(Abi::DEFAULT, [T::F32], T::F32).unwrap();
    assert_eq!(call::<f32>(&cif, code(a64_ret_f), &[p(&3.0f32)]), 1.5);
}

#[test]
fn homogeneous_aggregates_in_v_registers() {
    let d = Abi::DEFAULT;
    let cif = Cif::new(d, [F1::ffi_type()], F1::ffi_type()).unwrap();
    assert_eq!(
        call::<F1>(&cif, code(a64_f1), &[p(&F1 { a: 2.5 })]),
        F1 { a: 3.5 }
    );
    let cif = Cif::new(d, [F2::ffi_type()], F2::ffi_type()).unwrap();
    let got: F2 = call(&cif, code(a64_f2), &[p(&F2 { a: 1.0, b: 2.0 })]);
    assert_eq!(got, F2 { a: 2.0, b: 1.0 });
    let cif = Cif::new(d, [F3::ffi_type(), Type::F32], F3::ffi_type()).unwrap();
    let got: F3 = call(
        &cif,
        code(a64_f3),
        &[
            p(&F3 {
                a: 1.0,
                b: 2.0,
                c: 3.0,
            }),
            p(&0.5f32),
        ],
    );
    assert_eq!(
        got,
        F3 {
            a: 0.5,
            b: 1.0,
            c: 1.5
        }
    );
    let cif = Cif::new(d, [F4::ffi_type(), F4::ffi_type()], F4::ffi_type()).unwrap();
    let (x, y) = (
        F4 {
            a: 1.0,
            b: 2.0,
            c: 3.0,
            d: 4.0,
        },
        F4 {
            a: 10.0,
            b: 20.0,
            c: 30.0,
            d: 40.0,
        },
    );
    let got: F4 = call(&cif, code(a64_f4), &[p(&x), p(&y)]);
    assert_eq!(
        got,
        F4 {
            a: 41.0,
            b: 32.0,
            c: 23.0,
            d: 14.0
        }
    );
    let cif = Cif::new(d, [D1::ffi_type()], D1::ffi_type()).unwrap();
    assert_eq!(
        call::<D1>(&cif, code(a64_d1), &[p(&D1 { a: 2.0 })]),
        D1 { a: -2.0 }
    );
    let cif = Cif::new(d, [D2::ffi_type()], D2::ffi_type()).unwrap();
    let got: D2 = call(&cif, code(a64_d2), &[p(&D2 { a: [1.0, 2.0] })]);
    assert_eq!(got, D2 { a: [2.0, 1.0] });
    let cif = Cif::new(d, [D3::ffi_type(), D1::ffi_type()], D3::ffi_type()).unwrap();
    let x = D3 {
        a: [1.0, 2.0],
        b: 3.0,
    };
    let got: D3 = call(&cif, code(a64_d3), &[p(&x), p(&D1 { a: -2.0 })]);
    assert_eq!(
        got,
        D3 {
            a: [-2.0, -4.0],
            b: -6.0
        }
    );
    let cif = Cif::new(d, [D4::ffi_type()], D4::ffi_type()).unwrap();
    let got: D4 = call(
        &cif,
        code(a64_d4),
        &[p(&D4 {
            a: 1.0,
            b: 2.0,
            c: 3.0,
            d: 4.0,
        })],
    );
    assert_eq!(
        got,
        D4 {
            a: 4.0,
            b: 3.0,
            c: 2.0,
            d: 1.0
        }
    );
    // long double members, each in a whole q register: {x.b * 2, x.a - 1}.
    let cif = Cif::new(d, [L2::ffi_type()], L2::ffi_type()).unwrap();
    let x = L2 {
        a: LongDouble::from_f64(0.5),
        b: one_plus_tiny(),
    };
    let got: L2 = call(&cif, code(a64_l2), &[p(&x)]);
    assert_eq!(
        got,
        L2 {
            a: quad(false, 0x4000, 1 << 12),
            b: LongDouble::from_f64(-0.5)
        }
    );
    // Complex types are HFAs of two.
    let cif = Cif::new(d, [Type::complex_f32()], Type::complex_f32()).unwrap();
    let got: Complex<f32> = call(
        &cif,
        code(a64_cf),
        &[p(&Complex {
            re: 1.5f32,
            im: -2.0,
        })],
    );
    assert_eq!(got, Complex { re: 3.0, im: -4.0 });
    let cif = Cif::new(d, [Type::complex_f64(), Type::F64], Type::complex_f64()).unwrap();
    let got: Complex<f64> = call(
        &cif,
        code(a64_cd),
        &[
            p(&Complex {
                re: 1.5f64,
                im: -2.0,
            }),
            p(&-2.0f64),
        ],
    );
    assert_eq!(got, Complex { re: -3.0, im: 4.0 });
}

fn mix_formula(a: Fi, b: S3, c: Mix16) -> Mix16 {
    Mix16 {
        c: (a.i + i32::from(b.a)) as i8,
        s: (i32::from(b.b) * 2 + i32::from(c.s)) as i16,
        i: c.i - i32::from(b.c),
        d: f64::from(a.f) * c.d,
    }
}

#[test]
fn small_composites_in_x_registers() {
    let d = Abi::DEFAULT;
    let cif = Cif::new(
        d,
        [Fi::ffi_type(), S3::ffi_type(), Mix16::ffi_type()],
        Mix16::ffi_type(),
    )
    .unwrap();
    let (a, b, c) = (
        Fi { f: -1.5, i: 100 },
        S3 { a: 7, b: 8, c: 9 },
        Mix16 {
            c: 1,
            s: -2,
            i: 3,
            d: 4.5,
        },
    );
    let got: Mix16 = call(&cif, code(a64_mix), &[p(&a), p(&b), p(&c)]);
    assert_eq!(got, mix_formula(a, b, c));
    let cif = Cif::new(d, [Fi::ffi_type()], Fi::ffi_type()).unwrap();
    let got: Fi = call(&cif, code(a64_fi), &[p(&Fi { f: 2.0, i: 10 })]);
    assert_eq!(got, Fi { f: 6.0, i: 3 });
    let cif = Cif::new(d, [S3::ffi_type()], S3::ffi_type()).unwrap();
    let got: S3 = call(&cif, code(a64_s3), &[p(&S3 { a: 1, b: 2, c: 3 })]);
    assert_eq!(got, S3 { a: 3, b: 2, c: 1 });
}

#[test]
fn sixteen_byte_aligned_values_in_even_pairs() {
    let d = Abi::DEFAULT;
    let cif = Cif::new(d, [Type::I64, Type::I128, Type::I64], Type::I128).unwrap();
    let b: i128 = (0x0123_4567_89ab_cdef_i128 << 64) | 0x0fed_cba9_8765_4321;
    let got: i128 = call(&cif, code(a64_i128), &[p(&-1i64), p(&b), p(&7i64)]);
    assert_eq!(got, b.wrapping_mul(3) - 1 - 7);
    let cif = Cif::new(d, [Type::I32, I128S::ffi_type()], I128S::ffi_type()).unwrap();
    let got: I128S = call(
        &cif,
        code(a64_i128s),
        &[p(&5i32), p(&I128S { v: -(1 << 100) })],
    );
    assert_eq!(got, I128S { v: -(1 << 100) - 5 });
}

fn big_formula(x: Big, k: i32, y: Big) -> Big {
    Big {
        v: [0, 1, 2].map(|i| x.v[i] * i64::from(k) + y.v[2 - i]),
        d: x.d - y.d,
    }
}

#[test]
fn large_composites_by_reference_and_returned_through_x8() {
    let ty = Big::ffi_type();
    let cif = Cif::new(Abi::DEFAULT, [ty.clone(), Type::I32, ty.clone()], ty).unwrap();
    let x = Big {
        v: [1, -2, 3],
        d: 0.5,
    };
    let y = Big {
        v: [10, 20, 30],
        d: 2.0,
    };
    let got: Big = call(&cif, code(a64_big), &[p(&x), p(&4i32), p(&y)]);
    assert_eq!(got, big_formula(x, 4, y));
    // The callee wrote to its copies, not to the values passed.
    assert_eq!((x.v[0], y.v[0]), (1, 10));
    // A null return buffer: the result goes to the plan's scratch.
    // SAFETY: as in `call`; a null rvalue discards the result.
    unsafe {
        cif.call_raw(
            code(a64_big),
            core::ptr::null_mut(),
            [p(&x), p(&4i32), p(&y)].as_ptr(),
        )
    };
}

#[test]
fn exhausted_registers_close_and_the_rest_goes_on_the_stack() {
    let d = Abi::DEFAULT;
    let mut types = vec![Type::F64; 6];
    types.extend([F3::ffi_type(), Type::F64]);
    let cif = Cif::new(d, types, Type::F64).unwrap();
    let a = [0.5f64, 1.0, 2.0, 3.0, 4.0, 5.0];
    let f = F3 {
        a: 1.0,
        b: 2.0,
        c: 3.0,
    };
    let mut args: Vec<_> = a.iter().map(p).collect();
    args.extend([p(&f), p(&6.0f64)]);
    assert_eq!(
        call::<f64>(&cif, code(a64_exh_v), &args),
        15.5 + 10.0 + 200.0 + 3000.0 + 60000.0
    );

    let mut types = vec![Type::I64; 7];
    types.extend([Mix16::ffi_type(), Type::I64]);
    let cif = Cif::new(d, types, Type::I64).unwrap();
    let a = [1i64, 2, 3, 4, 5, 6, 7];
    let m = Mix16 {
        c: 3,
        s: -4,
        i: 5,
        d: 6.0,
    };
    let mut args: Vec<_> = a.iter().map(p).collect();
    args.extend([p(&m), p(&8i64)]);
    assert_eq!(
        call::<i64>(&cif, code(a64_exh_x), &args),
        21 + 14 + 30 - 400 + 5000 + 60000 + 800000
    );

    let mut types = vec![Type::I64; 7];
    types.extend([Type::I128, Type::I64]);
    let cif = Cif::new(d, types, Type::I64).unwrap();
    let b: i128 = (11 << 64) | 13;
    let mut args: Vec<_> = a.iter().map(p).collect();
    args.extend([p(&b), p(&17i64)]);
    assert_eq!(
        call::<i64>(&cif, code(a64_exh_i128), &args),
        28 + 33 + 65 + 119
    );
}

#[test]
fn variadic_calls_pass_arguments_like_named_ones() {
    let f = F3 {
        a: 0.5,
        b: 0.25,
        c: 2.0,
    };
    let big = Big {
        v: [1, 2, 3],
        d: 0.5,
    };
    let fmt = c"idlFpB";
    let types = [
        Type::POINTER,
        Type::I32,
        Type::F64,
        Type::I64,
        F3::ffi_type(),
        Type::POINTER,
        Big::ffi_type(),
    ];
    let cif = Cif::new_variadic(Abi::DEFAULT, types, 1, Type::F64).unwrap();
    let (s, i, dd, l, ptr) = (fmt.as_ptr(), 3i32, -0.5f64, -(1i64 << 40), 0x1000usize);
    let args = [p(&s), p(&i), p(&dd), p(&l), p(&f), p(&ptr), p(&big)];
    let want = 3.0 - 1.0 - 3.0 * (1u64 << 40) as f64 + 4.0 * 2.75 + 5.0 * 4096.0 + 6.0 * 6.5;
    assert_eq!(call::<f64>(&cif, code(a64_vfmt), &args), want);
}

// ---- closures called from C ----

#[test]
fn closure_of_every_integer_width() {
    let seen = Cell::new(None);
    let cif = Cif::new(Abi::DEFAULT, ints_types(), Type::I64).unwrap();
    let closure = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let a = (
            args.get::<i8>(0).unwrap(),
            args.get::<u8>(1).unwrap(),
            args.get::<i16>(2).unwrap(),
            args.get::<u16>(3).unwrap(),
            args.get::<i32>(4).unwrap(),
            args.get::<u32>(5).unwrap(),
            args.get::<i64>(6).unwrap(),
            args.get::<u64>(7).unwrap(),
            args.get::<i8>(8).unwrap(),
            args.get::<u16>(9).unwrap(),
        );
        seen.set(Some(a));
        ret.set(ints_formula(a)).unwrap();
    })
    .unwrap();
    let want = (
        -1i8,
        200u8,
        -300i16,
        60000u16,
        -70000i32,
        4_000_000_000u32,
        -(1i64 << 40),
        1u64 << 63,
        -5i8,
        65535u16,
    );
    // The closure has the signature a64_call_ints calls (see `via`).
    assert_eq!(via(a64_call_ints, closure.code_ptr()), ints_formula(want));
    assert_eq!(seen.get(), Some(want));
}

#[test]
fn closures_return_narrow_integers_that_c_extends() {
    fn constant<T: CType>(ty: Type, value: T) -> Closure<impl Fn(&Args<'_>, Ret<'_>)> {
        let cif = Cif::new(Abi::DEFAULT, [], ty).unwrap();
        Closure::new(cif, move |_: &Args<'_>, ret: Ret<'_>| {
            ret.set(value).unwrap()
        })
        .unwrap()
    }
    let a = constant(Type::I8, -7i8);
    let b = constant(Type::U8, 250u8);
    let c = constant(Type::I16, -3i16);
    let d = constant(Type::U16, 65000u16);
    let e = constant(Type::I32, -9i32);
    let f = constant(Type::U32, 4_000_000_000u32);
    // SAFETY: each closure has the `T (*)(void)` signature a64_call_narrow calls.
    let got = unsafe {
        a64_call_narrow(
            a.code_ptr(),
            b.code_ptr(),
            c.code_ptr(),
            d.code_ptr(),
            e.code_ptr(),
            f.code_ptr(),
        )
    };
    assert_eq!(got, -7 + 250_000 - 3_000_000 + 65000 - 90 + 4_000_000_000);
}

#[test]
fn closure_of_floats_and_long_doubles_past_v7() {
    use Type as T;
    let types = [
        T::F32,
        T::F64,
        T::LONG_DOUBLE,
        T::F32,
        T::F64,
        T::F64,
        T::F64,
        T::F64,
        T::F32,
        T::LONG_DOUBLE,
        T::F64,
    ];
    let seen = RefCell::new(Vec::new());
    let cif = Cif::new(Abi::DEFAULT, types, T::F64).unwrap();
    let closure = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let mut v = seen.borrow_mut();
        for i in 0..11 {
            v.push(match i {
                0 | 3 | 8 => f64::from(args.get::<f32>(i).unwrap()),
                2 | 9 => args.get::<LongDouble>(i).unwrap().to_f64(),
                _ => args.get::<f64>(i).unwrap(),
            });
        }
        let sum: f64 = v
            .iter()
            .enumerate()
            .map(|(k, x)| (k as f64 + 1.0) * x)
            .sum();
        ret.set(sum).unwrap();
    })
    .unwrap();
    let want = [1.5, -2.25, 3.0, 0.125, 5.0, 6.0, 7.0, 8.0, -9.5, 0.75, 11.0];
    let sum: f64 = want
        .iter()
        .enumerate()
        .map(|(k, x)| (k as f64 + 1.0) * x)
        .sum();
    // The closure has the signature a64_call_fp calls (see `via`).
    assert_eq!(via(a64_call_fp, closure.code_ptr()), sum);
    assert_eq!(*seen.borrow(), want);

    // long double in and out at full precision: x * 3 - 2 for x = 1 + 2^-100.
    let cif = Cif::new(
        Abi::DEFAULT,
        [T::LONG_DOUBLE, T::LONG_DOUBLE],
        T::LONG_DOUBLE,
    )
    .unwrap();
    let ok = Cell::new(false);
    let closure = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        ok.set(
            args.get::<LongDouble>(0).unwrap() == one_plus_tiny()
                && args.get::<LongDouble>(1).unwrap() == LongDouble::from_f64(2.0),
        );
        ret.set(quad(false, 0x3FFF, 3 << 12)).unwrap();
    })
    .unwrap();
    // The closure has the signature a64_call_ld calls (see `via`).
    assert_eq!(via(a64_call_ld, closure.code_ptr()), 1);
    assert!(ok.get());
}

#[test]
fn closures_of_homogeneous_aggregates() {
    let d = Abi::DEFAULT;
    // F3 (F3 x, float k) = x * k, called with ({1, 2, 3}, -2).
    let cif = Cif::new(d, [F3::ffi_type(), Type::F32], F3::ffi_type()).unwrap();
    let f3 = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let (x, k) = (args.get::<F3>(0).unwrap(), args.get::<f32>(1).unwrap());
        ret.set(F3 {
            a: x.a * k,
            b: x.b * k,
            c: x.c * k,
        })
        .unwrap();
    })
    .unwrap();
    // Each closure has the signature its caller calls (see `via`).
    assert_eq!(
        via(a64_call_f3, f3.code_ptr()),
        F3 {
            a: -2.0,
            b: -4.0,
            c: -6.0
        }
    );
    let cif = Cif::new(d, [F4::ffi_type(), F4::ffi_type()], F4::ffi_type()).unwrap();
    let f4 = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let (x, y) = (args.get::<F4>(0).unwrap(), args.get::<F4>(1).unwrap());
        ret.set(F4 {
            a: x.a + y.d,
            b: x.b + y.c,
            c: x.c + y.b,
            d: x.d + y.a,
        })
        .unwrap();
    })
    .unwrap();
    assert_eq!(
        via(a64_call_f4, f4.code_ptr()),
        F4 {
            a: 41.0,
            b: 32.0,
            c: 23.0,
            d: 14.0
        }
    );
    let cif = Cif::new(d, [D3::ffi_type(), D1::ffi_type()], D3::ffi_type()).unwrap();
    let d3 = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let (x, y) = (args.get::<D3>(0).unwrap(), args.get::<D1>(1).unwrap());
        ret.set(D3 {
            a: [x.a[0] * y.a, x.a[1] * y.a],
            b: x.b * y.a,
        })
        .unwrap();
    })
    .unwrap();
    assert_eq!(
        via(a64_call_d3, d3.code_ptr()),
        D3 {
            a: [3.0, 5.0],
            b: 7.0
        }
    );
    let cif = Cif::new(d, [D4::ffi_type()], D4::ffi_type()).unwrap();
    let d4 = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let x = args.get::<D4>(0).unwrap();
        ret.set(D4 {
            a: x.d,
            b: x.c,
            c: x.b,
            d: x.a,
        })
        .unwrap();
    })
    .unwrap();
    assert_eq!(
        via(a64_call_d4, d4.code_ptr()),
        D4 {
            a: 4.0,
            b: 3.0,
            c: 2.0,
            d: 1.0
        }
    );
    let cif = Cif::new(d, [Type::complex_f32()], Type::complex_f32()).unwrap();
    let cf = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let x = args.get::<Complex<f32>>(0).unwrap();
        ret.set(Complex {
            re: x.re * 2.0,
            im: x.im * 2.0,
        })
        .unwrap();
    })
    .unwrap();
    assert_eq!(
        via(a64_call_cf, cf.code_ptr()),
        Complex { re: 3.0, im: -4.0 }
    );

    // L2 (L2 x) = {x.b * 2, x.a - 1}, called with {0.5, 1 + 2^-100}; the C caller returns
    // an L2 in q0, q1, so it is called through a Cif too.
    let cif = Cif::new(d, [L2::ffi_type()], L2::ffi_type()).unwrap();
    let l2 = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let x = args.get::<L2>(0).unwrap();
        let ok = x
            == L2 {
                a: LongDouble::from_f64(0.5),
                b: one_plus_tiny(),
            };
        let a = if ok {
            quad(false, 0x4000, 1 << 12)
        } else {
            LongDouble::from_f64(f64::NAN)
        };
        ret.set(L2 {
            a,
            b: LongDouble::from_f64(-0.5),
        })
        .unwrap();
    })
    .unwrap();
    let cif = Cif::new(d, [Type::POINTER], L2::ffi_type()).unwrap();
    let got: L2 = call(&cif, code(a64_call_l2), &[p(&l2.code_ptr())]);
    assert_eq!(
        got,
        L2 {
            a: quad(false, 0x4000, 1 << 12),
            b: LongDouble::from_f64(-0.5)
        }
    );
}

#[test]
fn closures_of_small_composites_and_even_pairs() {
    let d = Abi::DEFAULT;
    let cif = Cif::new(
        d,
        [Fi::ffi_type(), S3::ffi_type(), Mix16::ffi_type()],
        Mix16::ffi_type(),
    )
    .unwrap();
    let seen = Cell::new(None);
    let mix = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let (a, b, c) = (
            args.get::<Fi>(0).unwrap(),
            args.get::<S3>(1).unwrap(),
            args.get::<Mix16>(2).unwrap(),
        );
        seen.set(Some((a, b, c)));
        ret.set(mix_formula(a, b, c)).unwrap();
    })
    .unwrap();
    let (a, b, c) = (
        Fi { f: 2.5, i: 40 },
        S3 { a: 1, b: 2, c: 3 },
        Mix16 {
            c: -7,
            s: -300,
            i: 100000,
            d: 0.25,
        },
    );
    // Each closure has the signature its caller calls (see `via`).
    assert_eq!(via(a64_call_mix, mix.code_ptr()), mix_formula(a, b, c));
    assert_eq!(seen.get(), Some((a, b, c)));

    let cif = Cif::new(d, [Type::I64, Type::I128, Type::I64], Type::I128).unwrap();
    let i128c = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let (a, b, c) = (
            args.get::<i64>(0).unwrap(),
            args.get::<i128>(1).unwrap(),
            args.get::<i64>(2).unwrap(),
        );
        ret.set(b.wrapping_mul(3) + i128::from(a) - i128::from(c))
            .unwrap();
    })
    .unwrap();
    let b: i128 = (0x0123_4567_89ab_cdef_i128 << 64) | 0xfedc_ba98_7654_3210;
    assert_eq!(
        via(a64_call_i128, i128c.code_ptr()),
        b.wrapping_mul(3) - 1 - 7
    );

    let cif = Cif::new(d, [Type::I32, I128S::ffi_type()], I128S::ffi_type()).unwrap();
    let i128s = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let (a, b) = (args.get::<i32>(0).unwrap(), args.get::<I128S>(1).unwrap());
        ret.set(I128S {
            v: b.v - i128::from(a),
        })
        .unwrap();
    })
    .unwrap();
    assert_eq!(
        via(a64_call_i128s, i128s.code_ptr()),
        I128S {
            v: ((-2i128) << 64 | 5) - 9
        }
    );
}

#[test]
fn closure_of_large_composites_reads_references_and_writes_through_x8() {
    let ty = Big::ffi_type();
    let cif = Cif::new(Abi::DEFAULT, [ty.clone(), Type::I32, ty.clone()], ty).unwrap();
    let closure = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let (x, k, y) = (
            args.get::<Big>(0).unwrap(),
            args.get::<i32>(1).unwrap(),
            args.get::<Big>(2).unwrap(),
        );
        // Writing to the arguments changes the caller's copies only.
        // SAFETY: argument 0 is a Big the closure may modify (a copy made by the caller).
        unsafe {
            args.ptr(0)
                .unwrap()
                .cast::<Big>()
                .write_unaligned(Big { v: [0; 3], d: 0.0 })
        };
        ret.set(big_formula(x, k, y)).unwrap();
    })
    .unwrap();
    // The closure has the signature a64_call_big calls (see `via`).
    assert_eq!(via(a64_call_big, closure.code_ptr()), 1);
}

#[test]
fn closures_after_exhausted_registers() {
    let d = Abi::DEFAULT;
    let mut types = vec![Type::F64; 6];
    types.extend([F3::ffi_type(), Type::F64]);
    let cif = Cif::new(d, types, Type::F64).unwrap();
    let v = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let sum: f64 = (0..6).map(|i| args.get::<f64>(i).unwrap()).sum();
        let f = args.get::<F3>(6).unwrap();
        let after = args.get::<f64>(7).unwrap();
        ret.set(
            sum + 10.0 * f64::from(f.a)
                + 100.0 * f64::from(f.b)
                + 1000.0 * f64::from(f.c)
                + 10000.0 * after,
        )
        .unwrap();
    })
    .unwrap();
    // Each closure has the signature its caller calls (see `via`).
    assert_eq!(
        via(a64_call_exh_v, v.code_ptr()),
        15.5 + 10.0 + 200.0 + 3000.0 + 60000.0
    );

    let mut types = vec![Type::I64; 7];
    types.extend([Mix16::ffi_type(), Type::I64]);
    let cif = Cif::new(d, types, Type::I64).unwrap();
    let x = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let a: Vec<i64> = (0..7).map(|i| args.get::<i64>(i).unwrap()).collect();
        let m = args.get::<Mix16>(7).unwrap();
        let c = args.get::<i64>(8).unwrap();
        let r = a[..6].iter().sum::<i64>()
            + a[6] * 2
            + i64::from(m.c) * 10
            + i64::from(m.s) * 100
            + i64::from(m.i) * 1000
            + (m.d as i64) * 10000
            + c * 100000;
        ret.set(r).unwrap();
    })
    .unwrap();
    assert_eq!(
        via(a64_call_exh_x, x.code_ptr()),
        21 + 14 + 30 - 400 + 5000 + 60000 + 800000
    );

    let mut types = vec![Type::I64; 7];
    types.extend([Type::I128, Type::I64]);
    let cif = Cif::new(d, types, Type::I64).unwrap();
    let q = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        let a: i64 = (0..7).map(|i| args.get::<i64>(i).unwrap()).sum();
        let b = args.get::<i128>(7).unwrap();
        let c = args.get::<i64>(8).unwrap();
        ret.set(a + ((b >> 64) as i64) * 3 + (b as i64) * 5 + c * 7)
            .unwrap();
    })
    .unwrap();
    assert_eq!(via(a64_call_exh_i128, q.code_ptr()), 28 + 33 + 65 + 119);
}

#[test]
fn variadic_closure_called_from_c() {
    // A closure for one call shape of a variadic prototype: on Linux the variadic arguments
    // arrive exactly where named ones would.
    let types = [
        Type::POINTER,
        Type::I32,
        Type::F64,
        Type::I64,
        F3::ffi_type(),
        Type::POINTER,
        Big::ffi_type(),
    ];
    let cif = Cif::new_variadic(Abi::DEFAULT, types, 1, Type::F64).unwrap();
    let closure = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        // SAFETY: argument 0 is the NUL-terminated format a64_call_vfmt passes.
        let fmt =
            unsafe { core::ffi::CStr::from_ptr(args.get::<*const core::ffi::c_char>(0).unwrap()) };
        let f = args.get::<F3>(4).unwrap();
        let b = args.get::<Big>(6).unwrap();
        let r = f64::from(args.get::<i32>(1).unwrap())
            + 2.0 * args.get::<f64>(2).unwrap()
            + 3.0 * args.get::<i64>(3).unwrap() as f64
            + 4.0 * f64::from(f.a + f.b + f.c)
            + 5.0 * args.get::<*const c_void>(5).unwrap() as usize as f64
            + 6.0 * ((b.v[0] + b.v[1] + b.v[2]) as f64 + b.d);
        ret.set(if fmt.to_bytes() == b"idlFpB" {
            r
        } else {
            f64::NAN
        })
        .unwrap();
    })
    .unwrap();
    let want = 3.0 - 1.0 - 3.0 * (1u64 << 40) as f64 + 4.0 * 2.75 + 5.0 * 4096.0 + 6.0 * 6.5;
    // SAFETY: the closure has the shape of the one call a64_call_vfmt makes.
    assert_eq!(via(a64_call_vfmt, closure.code_ptr()), want);
}

#[test]
fn raw_closure_and_from_raw_abi() {
    unsafe extern "C" fn cb(
        _cif: *const Cif,
        ret: *mut c_void,
        args: *const *mut c_void,
        ud: *mut c_void,
    ) {
        // SAFETY: the Cif is (i64, i128, i64) -> i128, as built below; ud is an i128.
        unsafe {
            let a = *(*args).cast::<i64>();
            let b = *(*args.add(1)).cast::<i128>();
            let c = *(*args.add(2)).cast::<i64>();
            let sum = b.wrapping_mul(3) + i128::from(a) - i128::from(c);
            *ret.cast::<i128>() = sum + *ud.cast::<i128>();
        }
    }
    let cif = Cif::new(
        Abi::from_raw(1).unwrap(),
        [Type::I64, Type::I128, Type::I64],
        Type::I128,
    )
    .unwrap();
    let ud = 1000i128;
    // SAFETY: `ud` outlives the closure.
    let closure = unsafe { Closure::from_raw(cif, cb, p(&ud)) }.unwrap();
    // gcc's caller passes a = -1, b = 0x0123456789abcdef << 64 | 0xfedcba9876543210, c = 7.
    let b = (0x0123_4567_89ab_cdef_i128 << 64) | 0xfedc_ba98_7654_3210;
    let want = b.wrapping_mul(3) - 1 - 7 + 1000;
    assert_eq!(via(a64_call_i128, closure.code_ptr()), want);
    assert_eq!(Abi::from_raw(2), Err(CifError::BadAbi(2)));
    assert_eq!(Abi::DEFAULT, Abi::Aapcs64);
    assert_eq!(Abi::DEFAULT.to_raw(), 1);
}

#[test]
fn typed_layer() {
    extern "C" fn mixed(a: i8, b: f32, c: i128, d: f64, e: u16) -> f64 {
        f64::from(a) + f64::from(b) * 2.0 + c as f64 * 3.0 + d * 4.0 + f64::from(e) * 5.0
    }
    let cif = TypedCif::<extern "C" fn(i8, f32, i128, f64, u16) -> f64>::new().unwrap();
    // SAFETY: `mixed` has this signature.
    let got = unsafe { cif.call(mixed, (-1, 0.5, 1 << 60, 0.25, 7)) };
    assert_eq!(got, -1.0 + 1.0 + (1u64 << 60) as f64 * 3.0 + 1.0 + 35.0);

    let scale = 3.0f32;
    let closure =
        TypedClosure::<extern "C" fn(F3, f32, i8) -> F3, _>::new(move |x: F3, k: f32, n: i8| F3 {
            a: x.a * k * scale,
            b: x.b * k,
            c: x.c + f32::from(n),
        })
        .unwrap();
    // SAFETY: the closure outlives the call.
    let f = unsafe { closure.fn_ptr() };
    assert_eq!(
        f(
            F3 {
                a: 1.0,
                b: 2.0,
                c: 3.0
            },
            2.0,
            -1
        ),
        F3 {
            a: 6.0,
            b: 4.0,
            c: 2.0
        }
    );

    // Rust passes LongDouble as a 16-byte struct in x registers, C in q registers.
    let err = TypedCif::<extern "C" fn(LongDouble) -> i32>::new().unwrap_err();
    assert_eq!(
        err,
        CifError::BadArgType {
            index: 0,
            reason: ValueTypeError::NoRustEquivalent
        }
    );
    let err = TypedCif::<extern "C" fn() -> L2>::new().unwrap_err();
    assert_eq!(
        err,
        CifError::BadReturnType(ValueTypeError::NoRustEquivalent)
    );
}

#[test]
fn long_double_is_binary128() {
    assert_eq!(Type::LONG_DOUBLE.size(), 16);
    assert_eq!(Type::LONG_DOUBLE.align(), 16);
    assert_eq!(Type::complex_long_double().size(), 32);
    // 1.0L as gcc emits it: .word 0, 0, 0, 0x3fff0000.
    assert_eq!(LongDouble::from_f64(1.0), quad(false, 0x3FFF, 0));
    assert_eq!(LongDouble::from_f64(-0.5), quad(true, 0x3FFE, 0));
    assert_eq!(one_plus_tiny().to_f64(), 1.0);
}

#[test]
fn frames_and_closure_scratch_larger_than_a_page() {
    // 700 arguments: 692 on the stack (5.5 KiB of frame) and 5.6 KiB of closure scratch
    // (the pointer array), both reserved page by page. The library is on both sides here
    // (gcc has no 700-argument peer), so this checks the page-by-page reservation and the
    // values' round trip, not where AAPCS64 puts them: the other tests do that against gcc.
    const N: usize = 700;
    let types: Vec<Type> = (0..N)
        .map(|i| if i % 2 == 0 { Type::I64 } else { Type::F64 })
        .collect();
    let cif = Cif::new(Abi::DEFAULT, types, Type::F64).unwrap();
    let closure = Closure::new(cif.clone(), |args: &Args<'_>, ret: Ret<'_>| {
        let sum: f64 = (0..N)
            .map(|i| {
                let x = if i % 2 == 0 {
                    args.get::<i64>(i).unwrap() as f64
                } else {
                    args.get::<f64>(i).unwrap()
                };
                (i as f64 + 1.0) * x
            })
            .sum();
        ret.set(sum).unwrap();
    })
    .unwrap();
    let ints: Vec<i64> = (0..N as i64).map(|i| i * 3 - 700).collect();
    let floats: Vec<f64> = (0..N).map(|i| i as f64 * 0.5 - 7.25).collect();
    let args: Vec<*mut c_void> = (0..N)
        .map(|i| {
            if i % 2 == 0 {
                p(&ints[i])
            } else {
                p(&floats[i])
            }
        })
        .collect();
    let want: f64 = (0..N)
        .map(|i| {
            let x = if i % 2 == 0 {
                ints[i] as f64
            } else {
                floats[i]
            };
            (i as f64 + 1.0) * x
        })
        .sum();
    assert_eq!(call::<f64>(&cif, closure.code_ptr(), &args), want);
}
