//! Execution tests of dynamic calls (`Cif::call_raw`, `Cif::call`, `TypedCif`) against the C
//! reference functions of `test-support/c/dynamic.c`, in both x86_64 conventions: System V
//! and Win64 (gcc's `ms_abi`), each through the plan interpreter and through compiled stubs
//! (`Cif::compile`).
//!
//! Every result is compared with a value computed independently: by the Rust mirror of the
//! C formula (test-support/src/dynamic.rs), by hand, or by the C library (`snprintf`).

#![cfg(target_arch = "x86_64")]

use core::ffi::{c_char, c_void};
use core::fmt::Debug;
use core::ptr;
use std::ffi::CStr;

use closure_ffi::dynamic::{
    arg, Abi, CType, CallError, Cif, CodePtr, Complex, LongDouble, Type, TypedCif,
};
use closure_ffi_test_support::dynamic::{
    self as c, DynBig, DynCcc, DynDd, DynDeep, DynDeepIn, DynDeepMid, DynDi, DynDifb, DynFarr,
    DynFf, DynFff, DynId, DynLl, DynNest, DynUni, Pair, Structs,
};

#[path = "common/dynamic.rs"]
mod shared;

use shared::{cif, suites, ty, x87_full_precision, Mode};

/// The address of a value, as `call_raw` takes it.
fn p<T>(value: &T) -> *mut c_void {
    (value as *const T).cast_mut().cast()
}

/// A return buffer larger and more aligned than any return type here.
#[repr(C, align(16))]
struct RetBuf([u8; 64]);

/// The byte a return buffer is filled with before a call.
const FILL: u8 = 0xA5;

/// Calls `code` through `cif` with `call_raw` and reads the result as `R`. Also checks that
/// the call wrote nothing past `max(size_of::<R>(), 8)` bytes of the return buffer.
///
/// # Safety
/// `code` must have `cif`'s signature, `args` must point to values of its argument types,
/// and `R` must have the layout of its return type.
unsafe fn call<R: Copy>(cif: &Cif, code: *const c_void, args: &[*mut c_void]) -> R {
    assert_eq!(args.len(), cif.args().len());
    assert_eq!(size_of::<R>(), cif.ret().size(), "R is not the return type");
    let mut buf = RetBuf([FILL; 64]);
    // SAFETY: forwarded contract; the buffer holds 64 bytes, aligned to 16.
    let value = unsafe {
        cif.call_raw(CodePtr::new(code), buf.0.as_mut_ptr().cast(), args.as_ptr());
        buf.0.as_ptr().cast::<R>().read_unaligned()
    };
    let used = size_of::<R>().max(8);
    assert!(
        buf.0[used..].iter().all(|&b| b == FILL),
        "the call wrote past {used} bytes of the return buffer"
    );
    value
}

/// The compiled mode must run machine code: the System V signatures of these tests are all
/// ones `Cif::compile` covers (Win64 Cifs may stay interpreted).
#[cfg(feature = "global_jit_alloc")]
#[test]
fn the_compiled_mode_compiles_system_v_signatures() {
    let sigs: Vec<(Vec<Type>, Type)> = vec![
        (vec![Type::I8, Type::I8], Type::I8),
        (vec![Type::U128, Type::U128], Type::U128),
        (vec![Type::LONG_DOUBLE; 2], Type::LONG_DOUBLE),
        (
            vec![Type::complex_long_double(); 2],
            Type::complex_long_double(),
        ),
        (vec![ty::fff(), Type::I32], ty::fff()),
        (vec![ty::difb(), Type::I32], ty::difb()),
        (vec![ty::big(), Type::I32], ty::big()),
        (many_types().to_vec(), Type::F64),
        (vec![Type::POINTER, Type::I64], Type::VOID),
    ];
    for (args, ret) in sigs {
        let mut cif = Cif::new(Abi::SysV64, args, ret).unwrap();
        assert_eq!(
            cif.compile(),
            Ok(true),
            "{:?} -> {:?}",
            cif.args(),
            cif.ret()
        );
    }
}

#[test]
fn type_layouts_match_the_c_compiler() {
    let expected = |name: &str| -> Type {
        match name {
            "dyn_ff" => ty::ff(),
            "dyn_di" => ty::di(),
            "dyn_id" => ty::id(),
            "dyn_ccc" => ty::ccc(),
            "dyn_fff" => ty::fff(),
            "dyn_dd" => ty::dd(),
            "dyn_difb" => ty::difb(),
            "dyn_big" => ty::big(),
            "dyn_nest" => ty::nest(),
            "dyn_farr" => ty::farr(),
            "dyn_uni" => ty::uni(),
            "dyn_deep" => ty::deep(),
            "dyn_ll" => ty::ll(),
            "long double" => Type::LONG_DOUBLE,
            "_Complex float" => Type::complex_f32(),
            "_Complex double" => Type::complex_f64(),
            "_Complex long double" => Type::complex_long_double(),
            "__int128" => Type::I128,
            other => panic!("no Type for {other}"),
        }
    };
    let mut seen = 0;
    loop {
        let (mut name, mut size, mut align) = (ptr::null(), 0, 0);
        // SAFETY: the out-pointers are valid; the name is a static C string.
        let name = unsafe {
            if c::dyn_layout(seen, &mut name, &mut size, &mut align) == 0 {
                break;
            }
            CStr::from_ptr(name).to_str().expect("ASCII")
        };
        let ty = expected(name);
        assert_eq!((ty.size(), ty.align()), (size, align), "{name}");
        seen += 1;
    }
    assert_eq!(seen, 18);
    // The mirrors agree too.
    assert_eq!(size_of::<DynDifb>(), ty::difb().size());
    assert_eq!(size_of::<DynUni>(), ty::uni().size());
    assert_eq!(size_of::<DynDeep>(), ty::deep().size());
    assert_eq!(ty::difb().offsets(), &[0, 8, 12, 16]);
    assert_eq!(ty::uni().offsets(), &[0, 4, 8]);
}

/// Calls `dyn_sub_<t>` with `Cif::call` over `pairs` and compares with `sub`.
fn check_sub<T: CType + PartialEq + Debug>(
    m: Mode,
    pair: Pair,
    pairs: &[(T, T)],
    sub: fn(T, T) -> T,
) {
    let cif = cif(m, [T::ffi_type(), T::ffi_type()], T::ffi_type());
    for &(a, b) in pairs {
        // SAFETY: `dyn_sub_<t>` is `T (T, T)` in this ABI.
        let got: T = unsafe { cif.call(CodePtr::new(pair.code), &[arg(&a), arg(&b)]) }
            .expect("the arguments match the Cif");
        assert_eq!(got, sub(a, b), "{m:?}: {a:?} - {b:?}");
    }
}

#[test]
fn integer_scalars() {
    for (m, s) in suites() {
        check_sub(
            m,
            s.sub_u8,
            &[(200u8, 50), (0, 1), (1, 255)],
            u8::wrapping_sub,
        );
        check_sub(
            m,
            s.sub_i8,
            &[(-100i8, 27), (127, -1), (-128, 1), (5, -5)],
            i8::wrapping_sub,
        );
        check_sub(m, s.sub_u16, &[(60000u16, 1), (0, 2)], u16::wrapping_sub);
        check_sub(
            m,
            s.sub_i16,
            &[(-30000i16, 2768), (i16::MAX, -1), (i16::MIN, 1)],
            i16::wrapping_sub,
        );
        check_sub(
            m,
            s.sub_u32,
            &[(4_000_000_000u32, 1), (0, 3)],
            u32::wrapping_sub,
        );
        check_sub(
            m,
            s.sub_i32,
            &[(-2_000_000_000i32, 147_483_648), (i32::MAX, -1)],
            i32::wrapping_sub,
        );
        check_sub(m, s.sub_u64, &[(1u64 << 63, 1), (0, 5)], u64::wrapping_sub);
        check_sub(
            m,
            s.sub_i64,
            &[(i64::MIN, 1), (0x1_2345_6789, -0x9_8765_4321)],
            i64::wrapping_sub,
        );
        check_sub(
            m,
            s.sub_u128,
            &[
                (1u128 << 127, 1),
                (0, 1),
                (0x0123_4567_89ab_cdef_fedc_ba98_7654_3210, 0x10),
            ],
            u128::wrapping_sub,
        );
        check_sub(
            m,
            s.sub_i128,
            &[
                (-(1i128 << 100), 1),
                (-3, 4),
                (i128::MIN, 1),
                (1 << 64, -(1 << 64)),
            ],
            i128::wrapping_sub,
        );
    }
}

#[test]
fn float_scalars() {
    for (m, s) in suites() {
        check_sub(
            m,
            s.sub_f32,
            &[
                (1.5f32, 0.25),
                (-3.0, 4.5),
                (1e30, -1e30),
                (f32::MIN_POSITIVE, 0.0),
            ],
            |a, b| a - b,
        );
        check_sub(
            m,
            s.sub_f64,
            &[
                (1.5f64, 0.25),
                (0.1, 0.2),
                (1e300, -1e300),
                (f64::MIN_POSITIVE, 0.0),
            ],
            |a, b| a - b,
        );
        let cif = cif(m, [Type::LONG_DOUBLE; 2], Type::LONG_DOUBLE);
        for (a, b) in [(1.5, -2.25), (-1024.0, 3.0), (3.0, 3.0), (1e300, -1e300)] {
            let (x, y) = (LongDouble::from_f64(a), LongDouble::from_f64(b));
            // SAFETY: `dyn_sub_ld` is `long double (long double, long double)`.
            let got: LongDouble =
                unsafe { cif.call(CodePtr::new(s.sub_ld.code), &[arg(&x), arg(&y)]) }.unwrap();
            // The sums are exact; compare the 10 value bytes (the rest is padding).
            let want = LongDouble::from_f64(a - b);
            assert_eq!(got.0[..10], want.0[..10], "{m:?}: {a} - {b}");
        }
    }
}

/// The x87 value with the 64-bit mantissa `mant` (explicit integer bit included) and the
/// exponent of [1, 2).
fn ld_bits(mant: u64) -> LongDouble {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&mant.to_le_bytes());
    bytes[8..10].copy_from_slice(&16383u16.to_le_bytes());
    LongDouble(bytes)
}

/// An x87 value from its sign, biased exponent and 64-bit mantissa.
fn ld_parts(negative: bool, exp: u16, mant: u64) -> LongDouble {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&mant.to_le_bytes());
    bytes[8..10].copy_from_slice(&(exp | u16::from(negative) << 15).to_le_bytes());
    LongDouble(bytes)
}

#[test]
fn long_double_from_f64_below_one() {
    assert_eq!(LongDouble::from_f64(0.5), ld_parts(false, 16382, 1 << 63));
    assert_eq!(LongDouble::from_f64(-0.375), ld_parts(true, 16381, 3 << 62));
    for x in [0.1, -0.999, 1e-300, 0.5 + f64::EPSILON] {
        assert_eq!(LongDouble::from_f64(x).to_f64(), x);
    }
}

#[test]
fn long_double_to_f64_subnormal() {
    // 2^-1025 and 3 * 2^-1070 are exact f64 subnormals.
    let tiny = f64::MIN_POSITIVE / 8.0;
    assert_eq!(
        LongDouble::from_f64(tiny),
        ld_parts(false, 16383 - 1025, 1 << 63)
    );
    assert_eq!(ld_parts(false, 16383 - 1025, 1 << 63).to_f64(), tiny);
    let three = f64::from_bits(3 << 4);
    assert_eq!(ld_parts(true, 16383 - 1069, 3 << 62).to_f64(), -three);
}

#[test]
fn long_double_keeps_the_full_mantissa() {
    // 2^-60 is 8 units in the last place of the x87 mantissa for numbers in [1, 2): the
    // results are not representable as f64, so nothing may round through a double.
    x87_full_precision();
    assert_eq!(ld_bits(1 << 63), LongDouble::from_f64(1.0));
    for (m, s) in suites() {
        let cif = cif(m, [Type::LONG_DOUBLE], Type::LONG_DOUBLE);
        for mant in [1u64 << 63, (1 << 63) | 2, (3 << 62) | 1] {
            let x = ld_bits(mant);
            // SAFETY: `dyn_ld_bump` is `long double (long double)`.
            let got: LongDouble = unsafe { call(&cif, s.ld_bump.code, &[p(&x)]) };
            // Compare the 10 significant bytes (the rest is padding).
            assert_eq!(got.0[..10], ld_bits(mant + 8).0[..10], "{m:?} {mant:#x}");
        }
    }
}

#[test]
fn pointers() {
    let buf = [0u8; 64];
    let base = buf.as_ptr().cast_mut().cast::<c_void>();
    for (m, s) in suites() {
        let cif = cif(m, [Type::POINTER, Type::I64], Type::POINTER);
        for (from, off) in [(0usize, 17i64), (40, -40), (63, 0)] {
            // SAFETY: the pointer stays within `buf`.
            let start = unsafe { base.byte_add(from) };
            // SAFETY: `dyn_ptr_add` is `void *(void *, int64_t)`.
            let got: *mut c_void =
                unsafe { cif.call(CodePtr::new(s.ptr_add.code), &[arg(&start), arg(&off)]) }
                    .unwrap();
            assert_eq!(got, start.wrapping_byte_offset(off as isize), "{m:?}");
        }
    }
}

#[test]
fn every_integer_kind_in_one_call() {
    let target = -1_000_000_007i64;
    let target_ptr: *const i64 = &target;
    for (m, s) in suites() {
        let cif = cif(
            m,
            [
                Type::U8,
                Type::I8,
                Type::U16,
                Type::I16,
                Type::U32,
                Type::I32,
                Type::U64,
                Type::I64,
                Type::POINTER,
            ],
            Type::I64,
        );
        let cases = [
            (
                250u8,
                -7i8,
                65000u16,
                i16::MIN,
                4_000_000_000u32,
                -2i32,
                1u64 << 63,
                -3i64,
            ),
            (0, 127, 0, i16::MAX, 0, i32::MIN, 0, i64::MAX),
            (255, -128, u16::MAX, -1, u32::MAX, -1, u64::MAX, i64::MIN),
        ];
        for (a, b, c_, d, e, f, g, h) in cases {
            let args = [
                arg(&a),
                arg(&b),
                arg(&c_),
                arg(&d),
                arg(&e),
                arg(&f),
                arg(&g),
                arg(&h),
                arg(&target_ptr),
            ];
            // SAFETY: `dyn_ints` has this signature; the pointer is valid.
            let got: i64 = unsafe { cif.call(CodePtr::new(s.ints.code), &args) }.unwrap();
            assert_eq!(got, c::ints(a, b, c_, d, e, f, g, h, target), "{m:?}");
        }
    }
}

/// `dyn_raw` returns its first integer argument register as it was set.
#[test]
fn narrow_integer_arguments_are_extended_to_64_bits() {
    for (m, s) in suites() {
        let extended = |ty: Type, value: *mut c_void| -> u64 {
            let cif = cif(m, [ty], Type::U64);
            // SAFETY: `dyn_raw` reads only the first argument register, which the Cif sets.
            unsafe { call(&cif, s.raw, &[value]) }
        };
        assert_eq!(extended(Type::I8, p(&-5i8)), -5i64 as u64, "{m:?} i8");
        assert_eq!(extended(Type::U8, p(&0xFBu8)), 0xFB, "{m:?} u8");
        assert_eq!(
            extended(Type::I16, p(&-300i16)),
            -300i64 as u64,
            "{m:?} i16"
        );
        assert_eq!(extended(Type::U16, p(&0xFED4u16)), 0xFED4, "{m:?} u16");
        assert_eq!(
            extended(Type::I32, p(&i32::MIN)),
            i64::from(i32::MIN) as u64,
            "{m:?} i32"
        );
        assert_eq!(extended(Type::U32, p(&u32::MAX)), 0xFFFF_FFFF, "{m:?} u32");
        let addr = 0x7654_3210_FEDC_BA98usize as *const u8;
        assert_eq!(extended(Type::POINTER, p(&addr)), addr as u64, "{m:?} ptr");
    }
}

/// `dyn_raw` returns a register whose upper bits are not an extension of the low ones.
#[test]
fn narrow_integer_returns_are_widened_to_8_bytes() {
    let raw = 0x1234_5678_9ABC_DE85u64;
    for (m, s) in suites() {
        let widened = |ret: Type, raw: u64| -> u64 {
            let cif = cif(m, [Type::U64], ret);
            let mut buf = RetBuf([FILL; 64]);
            // SAFETY: `dyn_raw` returns its argument; the buffer holds 64 bytes.
            unsafe {
                cif.call_raw(
                    CodePtr::new(s.raw),
                    buf.0.as_mut_ptr().cast(),
                    [p(&raw)].as_ptr(),
                )
            };
            assert!(buf.0[8..].iter().all(|&b| b == FILL), "{m:?}: wrote past 8");
            u64::from_le_bytes(buf.0[..8].try_into().unwrap())
        };
        assert_eq!(widened(Type::I8, raw), 0xFFFF_FFFF_FFFF_FF85, "{m:?} i8");
        assert_eq!(widened(Type::U8, raw), 0x85, "{m:?} u8");
        assert_eq!(widened(Type::I8, 0xFF05), 5, "{m:?} i8 positive");
        assert_eq!(widened(Type::I16, raw), 0xFFFF_FFFF_FFFF_DE85, "{m:?} i16");
        assert_eq!(widened(Type::U16, raw), 0xDE85, "{m:?} u16");
        assert_eq!(widened(Type::I32, raw), 0xFFFF_FFFF_9ABC_DE85, "{m:?} i32");
        assert_eq!(widened(Type::U32, raw), 0x9ABC_DE85, "{m:?} u32");
        assert_eq!(
            widened(Type::I32, 0xFFFF_FFFF_1234_5678),
            0x1234_5678,
            "{m:?}"
        );
        assert_eq!(widened(Type::I64, raw), raw, "{m:?} i64");
        assert_eq!(widened(Type::POINTER, raw), raw, "{m:?} ptr");

        // The checked call reads the narrow value.
        let cif = cif(m, [Type::U64], Type::I8);
        // SAFETY: as above.
        let v: i8 = unsafe { cif.call(CodePtr::new(s.raw), &[arg(&raw)]) }.unwrap();
        assert_eq!(v, 0x85u8 as i8);
    }
}

#[test]
fn complex_values() {
    for (m, s) in suites() {
        let cf = |re, im| Complex::<f32> { re, im };
        let cif_f = cif(
            m,
            [Type::complex_f32(), Type::complex_f32()],
            Type::complex_f32(),
        );
        let (a, b) = (cf(1.5, -2.0), cf(3.0, 0.5));
        // SAFETY: `dyn_cmul_f` is `float _Complex (float _Complex, float _Complex)`.
        let got: Complex<f32> =
            unsafe { cif_f.call(CodePtr::new(s.cmul_f.code), &[arg(&a), arg(&b)]) }.unwrap();
        assert_eq!(got, cf(5.5, -5.25), "{m:?} float");

        let cd = |re, im| Complex::<f64> { re, im };
        let cif_d = cif(
            m,
            [Type::complex_f64(), Type::complex_f64()],
            Type::complex_f64(),
        );
        let (a, b) = (cd(-4.0, 0.25), cd(8.0, -16.0));
        // SAFETY: `dyn_cmul_d` is `double _Complex (double _Complex, double _Complex)`.
        let got: Complex<f64> =
            unsafe { cif_d.call(CodePtr::new(s.cmul_d.code), &[arg(&a), arg(&b)]) }.unwrap();
        assert_eq!(got, cd(-28.0, 66.0), "{m:?} double");

        let cl = |re, im| Complex {
            re: LongDouble::from_f64(re),
            im: LongDouble::from_f64(im),
        };
        let ty = Type::complex_long_double();
        let cif_l = cif(m, [ty.clone(), ty.clone()], ty);
        let (a, b) = (cl(1.5, -2.0), cl(3.0, 2.0));
        // SAFETY: `dyn_cmul_ld` is `long double _Complex (long double _Complex, ..)`.
        let got: Complex<LongDouble> =
            unsafe { cif_l.call(CodePtr::new(s.cmul_ld.code), &[arg(&a), arg(&b)]) }.unwrap();
        assert_eq!(
            (got.re.to_f64(), got.im.to_f64()),
            (8.5, -3.0),
            "{m:?} long double"
        );
    }
}

/// Calls `dyn_<s>_op(x, k)` for each input (k = -2, 1, 4, ..) and compares with `mirror`.
fn check_op<S: Copy + PartialEq + Debug>(
    m: Mode,
    pair: Pair,
    ty: Type,
    inputs: &[S],
    mirror: fn(S, i32) -> S,
) {
    assert_eq!(size_of::<S>(), ty.size());
    let cif = cif(m, [ty.clone(), Type::I32], ty);
    for (j, x) in inputs.iter().enumerate() {
        let k = 3 * j as i32 - 2;
        // SAFETY: `dyn_<s>_op` is `S (S, int32_t)`, and S mirrors the C struct.
        let got: S = unsafe { call(&cif, pair.code, &[p(x), p(&k)]) };
        assert_eq!(got, mirror(*x, k), "{m:?}: {x:?}, k = {k}");
    }
}

#[test]
fn structs_by_value_and_returned() {
    for (m, s) in suites() {
        let ff = |a, b| DynFf { a, b };
        check_op(
            m,
            s.ff_op,
            ty::ff(),
            &[ff(1.5, -2.25), ff(0.0, 1e10)],
            c::ff_op,
        );
        let di = [
            DynDi { d: 1.5, i: -7 },
            DynDi {
                d: -1e100,
                i: 1_000_000,
            },
        ];
        check_op(m, s.di_op, ty::di(), &di, c::di_op);
        let id = [
            DynId { i: -7, d: 1.5 },
            DynId {
                i: i32::MAX,
                d: -0.25,
            },
        ];
        check_op(m, s.id_op, ty::id(), &id, c::id_op);
        let ccc = |a, b, c| DynCcc { a, b, c };
        let inputs = [ccc(1, -2, 3), ccc(-128, 127, 0), ccc(100, -100, 50)];
        check_op(m, s.ccc_op, ty::ccc(), &inputs, c::ccc_op);
        let fff = |a, b, c| DynFff { a, b, c };
        let inputs = [fff(1.5, -2.5, 4.0), fff(0.125, 1e20, -3.0)];
        check_op(m, s.fff_op, ty::fff(), &inputs, c::fff_op);
        let dd = [
            DynDd { a: 1.5, b: -2.5 },
            DynDd {
                a: 1e200,
                b: -0.125,
            },
        ];
        check_op(m, s.dd_op, ty::dd(), &dd, c::dd_op);
        let difb = |d, i, f, b| DynDifb { d, i, f, b };
        let inputs = [difb(1.5, -7, 0.25, 200), difb(-1e100, 123_456, -3.5, 1)];
        check_op(m, s.difb_op, ty::difb(), &inputs, c::difb_op);
        let big = [
            DynBig {
                v: [1, -2, 3, -4, 5],
            },
            DynBig {
                v: [i64::MIN, i64::MAX, 0, 1 << 40, -(1 << 40)],
            },
        ];
        check_op(m, s.big_op, ty::big(), &big, c::big_op);
        let nest = |a, b, n| DynNest {
            inner: DynFf { a, b },
            n,
        };
        let inputs = [nest(1.5, -2.5, 7), nest(0.0, 3e10, -100_000)];
        check_op(m, s.nest_op, ty::nest(), &inputs, c::nest_op);
        let farr = [
            DynFarr {
                f: [1.5, -2.5, 8.0],
                n: 9,
            },
            DynFarr {
                f: [0.0, 1e-3, -1e3],
                n: -9,
            },
        ];
        check_op(m, s.farr_op, ty::farr(), &farr, c::farr_op);
        let uni = [
            DynUni {
                tag: 255,
                v: 0xDEAD_BEEF,
                d: 1.5,
            },
            DynUni {
                tag: 3,
                v: 1.0f32.to_bits(),
                d: -2.5,
            },
        ];
        check_op(m, s.uni_op, ty::uni(), &uni, c::uni_op);
        let deep = |s, f, d| DynDeep {
            mid: DynDeepMid {
                inner: DynDeepIn { s },
                f,
            },
            d,
        };
        let inputs = [deep(-300, 1.5, 2.5), deep(i16::MAX, -0.5, -1e10)];
        check_op(m, s.deep_op, ty::deep(), &inputs, c::deep_op);
        let ll = [
            DynLl { a: 1, b: -2 },
            DynLl {
                a: i64::MAX,
                b: i64::MIN,
            },
        ];
        check_op(m, s.ll_op, ty::ll(), &ll, c::ll_op);
    }
}

/// The arguments `dyn_check_structs` uses too.
fn structs_args() -> Structs {
    Structs {
        a: DynFf { a: 1.5, b: -2.0 },
        b: DynDi { d: 0.25, i: -3 },
        c: DynId { i: 4, d: -0.5 },
        d: DynCcc { a: -5, b: 6, c: -7 },
        e: DynFff {
            a: 8.0,
            b: -9.5,
            c: 10.0,
        },
        f: DynDd { a: -11.0, b: 12.25 },
        g: DynDifb {
            d: 13.0,
            i: -14,
            f: 15.5,
            b: 16,
        },
        h: DynBig {
            v: [17, -18, 19, -20, 21],
        },
        i: DynNest {
            inner: DynFf { a: 22.0, b: -23.0 },
            n: 24,
        },
        j: DynFarr {
            f: [25.0, 26.5, -27.0],
            n: 28,
        },
        k: DynUni {
            tag: 29,
            v: 30,
            d: -31.0,
        },
        l: DynDeep {
            mid: DynDeepMid {
                inner: DynDeepIn { s: -32 },
                f: 33.0,
            },
            d: 34.5,
        },
        m: DynLl { a: -35, b: 36 },
    }
}

#[test]
fn thirteen_structs_in_one_call() {
    let v = structs_args();
    for (m, s) in suites() {
        let cif = cif(
            m,
            [
                ty::ff(),
                ty::di(),
                ty::id(),
                ty::ccc(),
                ty::fff(),
                ty::dd(),
                ty::difb(),
                ty::big(),
                ty::nest(),
                ty::farr(),
                ty::uni(),
                ty::deep(),
                ty::ll(),
            ],
            Type::F64,
        );
        let args = [
            p(&v.a),
            p(&v.b),
            p(&v.c),
            p(&v.d),
            p(&v.e),
            p(&v.f),
            p(&v.g),
            p(&v.h),
            p(&v.i),
            p(&v.j),
            p(&v.k),
            p(&v.l),
            p(&v.m),
        ];
        // SAFETY: `dyn_structs` has this signature; the mirrors have the C layouts.
        let got: f64 = unsafe { call(&cif, s.structs.code, &args) };
        assert_eq!(got, c::structs(&v), "{m:?}");
        // Not all of the above is zero: the digest sees every struct.
        assert_ne!(got, 0.0);
    }
}

/// The types of `dyn_many`.
fn many_types() -> [Type; 22] {
    [
        Type::I8,
        Type::F64,
        Type::U16,
        Type::F32,
        Type::I32,
        Type::F64,
        Type::I64,
        Type::F64,
        Type::U8,
        Type::F64,
        Type::I16,
        Type::F32,
        Type::U32,
        Type::F64,
        Type::I64,
        Type::F64,
        Type::POINTER,
        Type::F64,
        Type::I32,
        Type::F64,
        Type::F32,
        Type::I64,
    ]
}

#[test]
fn twenty_two_arguments_overflow_both_register_files() {
    let target = 1_234_567i64;
    let target_ptr: *const i64 = &target;
    for (m, s) in suites() {
        let cif = cif(m, many_types(), Type::F64);
        let (a0, d0, a1, f1, a2, d2) = (-1i8, 0.5f64, 60000u16, -1.25f32, -3i32, 3.5f64);
        let (a3, d3, a4, d4, a5, f5) = (1i64 << 40, -4.5f64, 200u8, 5.5f64, -6i16, 6.25f32);
        let (a6, d6, a7, d7) = (4_000_000_000u32, -7.5f64, -(1i64 << 35), 8.5f64);
        let (d8, a9, d9, f10, a10) = (-9.5f64, 10i32, 10.5f64, -11.75f32, 12i64);
        let args = [
            arg(&a0),
            arg(&d0),
            arg(&a1),
            arg(&f1),
            arg(&a2),
            arg(&d2),
            arg(&a3),
            arg(&d3),
            arg(&a4),
            arg(&d4),
            arg(&a5),
            arg(&f5),
            arg(&a6),
            arg(&d6),
            arg(&a7),
            arg(&d7),
            arg(&target_ptr),
            arg(&d8),
            arg(&a9),
            arg(&d9),
            arg(&f10),
            arg(&a10),
        ];
        // SAFETY: `dyn_many` has this signature; the pointer is valid.
        let got: f64 = unsafe { cif.call(CodePtr::new(s.many.code), &args) }.unwrap();
        let want = c::many(
            a0, d0, a1, f1, a2, d2, a3, d3, a4, d4, a5, f5, a6, d6, a7, d7, target, d8, a9, d9,
            f10, a10,
        );
        assert_eq!(got, want, "{m:?}");
        if m.abi == Abi::SysV64 {
            // 11 INTEGER arguments (6 in registers) and 11 SSE (8 in registers): 8 on the
            // stack.
            assert_eq!(cif.stack_bytes(), 64);
        } else {
            // One 8-byte slot per argument, the four home slots included.
            assert_eq!(cif.stack_bytes(), 22 * 8);
        }
    }
}

#[test]
fn floats_and_integers_interleaved() {
    for (m, s) in suites() {
        let cif = cif(
            m,
            [
                Type::I32,
                Type::F64,
                Type::I32,
                Type::F32,
                Type::F64,
                Type::F32,
                Type::I8,
                Type::F64,
            ],
            Type::F64,
        );
        let (a, b, c_, d, e, f, g, h) =
            (-1i32, 2.5f64, 3i32, -4.25f32, 5.5f64, 6.75f32, -7i8, 8.125);
        let args = [
            arg(&a),
            arg(&b),
            arg(&c_),
            arg(&d),
            arg(&e),
            arg(&f),
            arg(&g),
            arg(&h),
        ];
        // SAFETY: `dyn_mixed` has this signature.
        let got: f64 = unsafe { cif.call(CodePtr::new(s.mixed.code), &args) }.unwrap();
        assert_eq!(got, c::mixed(a, b, c_, d, e, f, g, h), "{m:?}");
    }
}

#[test]
fn a_struct_that_no_longer_fits_goes_whole_to_the_stack() {
    for (m, s) in suites() {
        let cif_int = cif(
            m,
            [
                Type::I64,
                Type::I64,
                Type::I64,
                Type::I64,
                Type::I64,
                ty::ll(),
                Type::I64,
            ],
            Type::I64,
        );
        let ll = DynLl {
            a: -1000,
            b: 1 << 50,
        };
        let ints = [1i64, -2, 3, -4, 5, -6];
        let args = [
            p(&ints[0]),
            p(&ints[1]),
            p(&ints[2]),
            p(&ints[3]),
            p(&ints[4]),
            p(&ll),
            p(&ints[5]),
        ];
        // SAFETY: `dyn_spill_int` has this signature.
        let got: i64 = unsafe { call(&cif_int, s.spill_int.code, &args) };
        assert_eq!(got, c::spill_int(1, -2, 3, -4, 5, ll, -6), "{m:?} int");

        let mut types = vec![Type::F64; 7];
        types.extend([ty::dd(), Type::F64]);
        let cif_sse = m.prepare(Cif::new(m.abi, types, Type::F64).unwrap());
        let dd = DynDd {
            a: -0.5,
            b: 1024.25,
        };
        let ds = [1.0f64, -2.0, 3.0, -4.0, 5.0, -6.0, 7.0, -8.5];
        let mut args: Vec<_> = ds[..7].iter().map(p).collect();
        args.extend([p(&dd), p(&ds[7])]);
        // SAFETY: `dyn_spill_sse` has this signature.
        let got: f64 = unsafe { call(&cif_sse, s.spill_sse.code, &args) };
        let want = c::spill_sse(1.0, -2.0, 3.0, -4.0, 5.0, -6.0, 7.0, dd, -8.5);
        assert_eq!(got, want, "{m:?} sse");

        if m.abi == Abi::SysV64 {
            // Only the struct is on the stack: the last argument took the sixth GPR (or
            // xmm7).
            assert_eq!(cif_int.stack_bytes(), 16);
            assert_eq!(cif_sse.stack_bytes(), 16);
        }
    }
}

#[test]
fn sixteen_byte_values_on_the_stack_are_16_aligned() {
    for (m, s) in suites() {
        let cif = cif(
            m,
            [
                Type::I64,
                Type::I64,
                Type::I64,
                Type::I64,
                Type::I64,
                Type::I128,
                Type::I64,
                Type::I64,
                Type::LONG_DOUBLE,
                Type::I128,
                Type::I32,
            ],
            Type::U128,
        );
        let ints = [1i64, -2, 3, -4, 5, -6, 7];
        let x = -(0x0123_4567_89ab_cdef_i128 << 60);
        let z = (1i128 << 120) + 77;
        let y = LongDouble::from_f64(-12345.0);
        let h = -8i32;
        let args = [
            p(&ints[0]),
            p(&ints[1]),
            p(&ints[2]),
            p(&ints[3]),
            p(&ints[4]),
            p(&x),
            p(&ints[5]),
            p(&ints[6]),
            p(&y),
            p(&z),
            p(&h),
        ];
        // SAFETY: `dyn_stack_align` has this signature.
        let got: u128 = unsafe { call(&cif, s.stack_align.code, &args) };
        let want = c::stack_align(1, -2, 3, -4, 5, x, -6, 7, -12345, z, h);
        assert_eq!(got, want, "{m:?}");
        if m.abi == Abi::SysV64 {
            // x at 0, g at 16, y at 32 (aligned up from 24), z at 48, h at 64: 72 bytes,
            // rounded up to 80.
            assert_eq!(cif.stack_bytes(), 80);
        }
    }
}

#[test]
fn null_rvalue_discards_the_result() {
    for (m, s) in suites() {
        // void
        let cif_store = cif(m, [Type::POINTER, Type::I64], Type::VOID);
        let mut out = 0i64;
        let out_ptr: *mut i64 = &mut out;
        let v = -21i64;
        // SAFETY: `dyn_store` is `void (int64_t *, int64_t)`; `out` is writable.
        unsafe {
            cif_store.call_raw(
                CodePtr::new(s.store.code),
                ptr::null_mut(),
                [p(&out_ptr), p(&v)].as_ptr(),
            )
        };
        assert_eq!(out, -41, "{m:?} void");

        // A struct returned through a hidden pointer: the layer provides the memory.
        let cif_make = cif(m, [Type::I64, Type::POINTER], ty::big());
        let mut calls = 0i64;
        let calls_ptr: *mut i64 = &mut calls;
        let seed = 7i64;
        let args = [p(&seed), p(&calls_ptr)];
        // SAFETY: `dyn_big_make` is `dyn_big (int64_t, int64_t *)`.
        unsafe {
            cif_make.call_raw(
                CodePtr::new(s.big_make.code),
                ptr::null_mut(),
                args.as_ptr(),
            )
        };
        assert_eq!(calls, 1, "{m:?} sret");
        // SAFETY: as above.
        let got: DynBig = unsafe { call(&cif_make, s.big_make.code, &args) };
        assert_eq!((got, calls), (c::big_make(7), 2), "{m:?} sret");

        // Results in registers, and small integers.
        let cif_dd = cif(m, [ty::dd(), Type::I32], ty::dd());
        let (dd, k) = (DynDd { a: 1.0, b: 2.0 }, 3i32);
        // SAFETY: `dyn_dd_op` is `dyn_dd (dyn_dd, int32_t)`.
        unsafe {
            cif_dd.call_raw(
                CodePtr::new(s.dd_op.code),
                ptr::null_mut(),
                [p(&dd), p(&k)].as_ptr(),
            )
        };
        let cif_i8 = cif(m, [Type::I8, Type::I8], Type::I8);
        let (a, b) = (1i8, 2i8);
        // SAFETY: `dyn_sub_i8` is `int8_t (int8_t, int8_t)`.
        unsafe {
            cif_i8.call_raw(
                CodePtr::new(s.sub_i8.code),
                ptr::null_mut(),
                [p(&a), p(&b)].as_ptr(),
            )
        };

        // long double: on System V it comes back on the x87 stack, which must be popped even
        // when the value is discarded, or the stack overflows after eight calls and later
        // x87 arithmetic produces NaN.
        let cif_count = cif(m, [Type::POINTER], Type::LONG_DOUBLE);
        let mut calls = 0i64;
        let calls_ptr: *mut i64 = &mut calls;
        for _ in 0..20 {
            // SAFETY: `dyn_ld_count` is `long double (int64_t *)`.
            unsafe {
                cif_count.call_raw(
                    CodePtr::new(s.ld_count.code),
                    ptr::null_mut(),
                    [p(&calls_ptr)].as_ptr(),
                )
            };
        }
        assert_eq!(calls, 20, "{m:?}");
        // SAFETY: as above.
        let got: LongDouble = unsafe { call(&cif_count, s.ld_count.code, &[p(&calls_ptr)]) };
        assert_eq!(got.to_f64(), 2.5, "{m:?}");
        let cif_ld = cif(m, [Type::LONG_DOUBLE, Type::LONG_DOUBLE], Type::LONG_DOUBLE);
        let (a, b) = (LongDouble::from_f64(1.5), LongDouble::from_f64(-2.25));
        // SAFETY: `dyn_sub_ld` is `long double (long double, long double)`.
        let got: LongDouble = unsafe { call(&cif_ld, s.sub_ld.code, &[p(&a), p(&b)]) };
        assert_eq!(got.to_f64(), 3.75, "{m:?}: the x87 stack is unbalanced");
    }
}

/// A variable argument of `dyn_va`.
#[derive(Clone, Copy, Debug)]
enum Va<'a> {
    Int(i32),
    Uint(u32),
    Long(i64),
    Double(f64),
    LongDouble(LongDouble),
    Ptr(&'a i64),
    Ff(DynFf),
    Di(DynDi),
    Big(DynBig),
}

/// Calls `dyn_va(types, args..)` through a variadic Cif and returns the result and the
/// value the C function computes, by the Rust mirror.
fn call_va(m: Mode, code: *const c_void, args: &[Va<'_>]) -> (f64, f64) {
    let mut types = vec![Type::POINTER];
    let mut letters = String::new();
    let mut want = 0.0;
    // The pointer arguments' values, which must live across the call.
    let ptrs: Vec<*const i64> = args
        .iter()
        .map(|a| match a {
            Va::Ptr(r) => *r as *const i64,
            _ => ptr::null(),
        })
        .collect();
    let mut values = Vec::new();
    for (k, (a, ptr_value)) in args.iter().zip(&ptrs).enumerate() {
        let (letter, ty, value, v): (char, Type, *mut c_void, f64) = match a {
            Va::Int(x) => ('i', Type::I32, p(x), f64::from(*x)),
            Va::Uint(x) => ('u', Type::U32, p(x), f64::from(*x)),
            Va::Long(x) => ('l', Type::I64, p(x), *x as f64),
            Va::Double(x) => ('d', Type::F64, p(x), *x),
            Va::LongDouble(x) => ('L', Type::LONG_DOUBLE, p(x), x.to_f64()),
            Va::Ptr(r) => ('p', Type::POINTER, p(ptr_value), **r as f64),
            Va::Ff(x) => ('f', ty::ff(), p(x), f64::from(x.a) + f64::from(x.b)),
            Va::Di(x) => ('s', ty::di(), p(x), x.d + f64::from(x.i)),
            Va::Big(x) => ('b', ty::big(), p(x), x.v.iter().map(|&v| v as f64).sum()),
        };
        letters.push(letter);
        types.push(ty);
        values.push(value);
        want += (k + 1) as f64 * v;
    }
    let letters = std::ffi::CString::new(letters).unwrap();
    let letters_ptr = letters.as_ptr();
    let mut avalue = vec![p(&letters_ptr)];
    avalue.extend(values);
    let cif = Cif::new_variadic(m.abi, types, 1, Type::F64).expect("promoted arguments");
    let cif = m.prepare(cif);
    // SAFETY: `dyn_va` reads exactly the arguments its type string announces.
    let got: f64 = unsafe { call(&cif, code, &avalue) };
    (got, want)
}

#[test]
fn variadic_c_functions() {
    let target = -77i64;
    let ff = DynFf { a: 0.5, b: -8.0 };
    // Values of at most 8 bytes, passed in their slot by both conventions.
    let small: Vec<Vec<Va<'_>>> = vec![
        vec![Va::Int(-1)],
        vec![
            Va::Double(0.5),
            Va::Int(2),
            Va::Long(-3),
            Va::Uint(u32::MAX),
        ],
        vec![
            Va::Ptr(&target),
            Va::Ff(ff),
            Va::Double(-0.25),
            Va::Int(i32::MIN),
        ],
        // More doubles than SSE registers and more integers than GPRs.
        (0..12)
            .flat_map(|i| {
                [
                    Va::Double(f64::from(i) + 0.25),
                    Va::Long(i64::from(i) * -1000),
                ]
            })
            .collect(),
    ];
    for (m, s) in suites() {
        for list in &small {
            let (got, want) = call_va(m, s.va, list);
            assert_eq!(got, want, "{m:?}: {list:?}");
        }
    }

    // Larger values: only in the host's own convention. gcc's `va_arg` gets values larger
    // than 8 bytes wrong in the foreign one (see `dyn_va` in c/dynamic.c): System V on
    // Linux, Win64 on Windows.
    let ld = LongDouble::from_f64(-3.375);
    let di = DynDi { d: 2.5, i: -3 };
    let big = DynBig {
        v: [1, 2, 3, 4, -5],
    };
    let large: Vec<Vec<Va<'_>>> = vec![
        vec![Va::Di(di)],
        vec![Va::Big(big)],
        vec![Va::LongDouble(ld)],
        vec![
            Va::Ptr(&target),
            Va::Di(di),
            Va::Big(big),
            Va::LongDouble(ld),
        ],
        vec![
            Va::Di(di),
            Va::Double(1.5),
            Va::LongDouble(ld),
            Va::Int(7),
            Va::Big(big),
            Va::Ff(ff),
            Va::Double(-2.5),
            Va::Ptr(&target),
            Va::Di(di),
        ],
        // Six integers fill the GPRs (with the format): the struct goes to the stack.
        vec![
            Va::Int(1),
            Va::Int(2),
            Va::Int(3),
            Va::Int(4),
            Va::Di(di),
            Va::Int(5),
            Va::LongDouble(ld),
            Va::Int(6),
        ],
    ];
    for (m, s) in suites() {
        if m.abi != Abi::DEFAULT {
            continue;
        }
        for list in &large {
            let (got, want) = call_va(m, s.va, list);
            assert_eq!(got, want, "{m:?}: {list:?}");
        }
    }
}

extern "C" {
    fn snprintf(buf: *mut c_char, size: usize, format: *const c_char, ...) -> i32;
}

#[test]
fn variadic_snprintf() {
    // snprintf has the host's C convention.
    for (m, _) in suites() {
        if m.abi == Abi::DEFAULT {
            snprintf_through(m);
        }
    }
}

fn snprintf_through(m: Mode) {
    let code = snprintf as *const c_void;
    let mut buf = [0 as c_char; 256];
    let buf_ptr = buf.as_mut_ptr();
    let size = buf.len();

    // No %e: msvcrt prints three exponent digits.
    let format = c"%d|%ld|%f|%s|%c|%u|%lld|%x|%.2f|%hhd|%hd";
    let format_ptr = format.as_ptr();
    let text = c"str";
    let text_ptr = text.as_ptr();
    let (d, ld, f, ch, u, lld, x, e, hhd, hd) = (
        -42i32,
        // `long` is 32 bits on Windows: a value that fits both.
        -1_234_567_890 as core::ffi::c_long,
        3.25f64,
        i32::from(b'Z'),
        4_000_000_000u32,
        i64::MIN,
        0xBEEFu32,
        12345.678f64,
        -5i32,
        -300i32,
    );
    let cif = Cif::new_variadic(
        m.abi,
        [
            Type::POINTER,
            Type::USIZE,
            Type::POINTER,
            Type::I32,
            Type::SLONG,
            Type::F64,
            Type::POINTER,
            Type::I32,
            Type::U32,
            Type::I64,
            Type::U32,
            Type::F64,
            Type::I32,
            Type::I32,
        ],
        3,
        Type::I32,
    )
    .unwrap();
    let cif = m.prepare(cif);
    let args = [
        arg(&buf_ptr),
        arg(&size),
        arg(&format_ptr),
        arg(&d),
        arg(&ld),
        arg(&f),
        arg(&text_ptr),
        arg(&ch),
        arg(&u),
        arg(&lld),
        arg(&x),
        arg(&e),
        arg(&hhd),
        arg(&hd),
    ];
    // SAFETY: the arguments match the format; the buffer holds `size` bytes.
    let n: i32 = unsafe { cif.call(CodePtr::new(code), &args) }.unwrap();
    let want =
        "-42|-1234567890|3.250000|str|Z|4000000000|-9223372036854775808|beef|12345.68|-5|-300";
    // SAFETY: snprintf terminated the string.
    let got = unsafe { CStr::from_ptr(buf_ptr) }.to_str().unwrap();
    assert_eq!((got, n), (want, want.len() as i32), "{m:?}");

    // Ten doubles and seven integers after the three fixed arguments: both register files
    // overflow onto the stack.
    let format = c"%.1f %d %.1f %d %.1f %d %.1f %d %.1f %d %.1f %d %.1f %d %.1f %.1f %.1f";
    let format_ptr = format.as_ptr();
    let doubles: Vec<f64> = (0..10).map(|i| f64::from(i) - 4.5).collect();
    let ints: Vec<i32> = (0..7).map(|i| i * -11).collect();
    let mut types = vec![Type::POINTER, Type::USIZE, Type::POINTER];
    let mut args = vec![arg(&buf_ptr), arg(&size), arg(&format_ptr)];
    let mut want = Vec::new();
    for i in 0..10 {
        types.push(Type::F64);
        args.push(arg(&doubles[i]));
        want.push(format!("{:.1}", doubles[i]));
        if i < 7 {
            types.push(Type::I32);
            args.push(arg(&ints[i]));
            want.push(ints[i].to_string());
        }
    }
    let want = want.join(" ");
    let cif = m.prepare(Cif::new_variadic(m.abi, types, 3, Type::I32).unwrap());
    // SAFETY: as above.
    let n: i32 = unsafe { cif.call(CodePtr::new(code), &args) }.unwrap();
    // SAFETY: as above.
    let got = unsafe { CStr::from_ptr(buf_ptr) }.to_str().unwrap();
    assert_eq!((got, n), (want.as_str(), want.len() as i32), "{m:?}");
}

/// A user struct with its C type, for the typed layer.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
struct Difb {
    d: f64,
    i: i32,
    f: f32,
    b: u8,
}

// SAFETY: `ty::difb()` is exactly this struct's layout (checked against the C compiler in
// `type_layouts_match_the_c_compiler`).
unsafe impl CType for Difb {
    fn ffi_type() -> Type {
        ty::difb()
    }
}

extern "sysv64" {
    fn dyn_sub_i8_sysv(a: i8, b: i8) -> i8;
    fn dyn_sub_u128_sysv(a: u128, b: u128) -> u128;
    fn dyn_sub_f32_sysv(a: f32, b: f32) -> f32;
    fn dyn_ptr_add_sysv(p: *mut c_void, off: i64) -> *mut c_void;
    fn dyn_difb_op_sysv(x: Difb, k: i32) -> Difb;
    fn dyn_mixed_sysv(a: i32, b: f64, c: i32, d: f32, e: f64, f: f32, g: i8, h: f64) -> f64;
}

extern "win64" {
    fn dyn_sub_i16_win64(a: i16, b: i16) -> i16;
    fn dyn_sub_f64_win64(a: f64, b: f64) -> f64;
    fn dyn_difb_op_win64(x: Difb, k: i32) -> Difb;
    fn dyn_mixed_win64(a: i32, b: f64, c: i32, d: f32, e: f64, f: f32, g: i8, h: f64) -> f64;
}

#[test]
fn typed_cifs() {
    // SAFETY: for all calls below, the Rust declarations match the C definitions.
    unsafe {
        // "C" is the host's convention.
        let host = TypedCif::<unsafe extern "C" fn(i8, i8) -> i8>::new().unwrap();
        assert_eq!(host.cif().abi(), Abi::DEFAULT);
        let sub_i8 = TypedCif::<unsafe extern "sysv64" fn(i8, i8) -> i8>::new().unwrap();
        assert_eq!(sub_i8.call(dyn_sub_i8_sysv, (-100, 27)), -127);
        assert_eq!(sub_i8.cif().abi(), Abi::SysV64);
        let sub_u128 = TypedCif::<unsafe extern "sysv64" fn(u128, u128) -> u128>::new().unwrap();
        assert_eq!(sub_u128.call(dyn_sub_u128_sysv, (0, 1)), u128::MAX);
        let sub_f32 = TypedCif::<unsafe extern "sysv64" fn(f32, f32) -> f32>::new().unwrap();
        assert_eq!(sub_f32.call(dyn_sub_f32_sysv, (1.5, 0.25)), 1.25);
        let ptr_add =
            TypedCif::<unsafe extern "sysv64" fn(*mut c_void, i64) -> *mut c_void>::new().unwrap();
        let base = 0x1000 as *mut c_void;
        assert_eq!(
            ptr_add.call(dyn_ptr_add_sysv, (base, 0x234)),
            0x1234 as *mut c_void
        );
        let x = Difb {
            d: 1.5,
            i: -7,
            f: 0.25,
            b: 200,
        };
        let want = c::difb_op(
            DynDifb {
                d: 1.5,
                i: -7,
                f: 0.25,
                b: 200,
            },
            60,
        );
        let want = Difb {
            d: want.d,
            i: want.i,
            f: want.f,
            b: want.b,
        };
        let difb = TypedCif::<unsafe extern "sysv64" fn(Difb, i32) -> Difb>::new().unwrap();
        assert_eq!(difb.call(dyn_difb_op_sysv, (x, 60)), want);
        let mixed = TypedCif::<
            unsafe extern "sysv64" fn(i32, f64, i32, f32, f64, f32, i8, f64) -> f64,
        >::new()
        .unwrap();
        let got = mixed.call(dyn_mixed_sysv, (-1, 2.5, 3, -4.25, 5.5, 6.75, -7, 8.125));
        assert_eq!(got, c::mixed(-1, 2.5, 3, -4.25, 5.5, 6.75, -7, 8.125));

        let sub_i16 = TypedCif::<unsafe extern "win64" fn(i16, i16) -> i16>::new().unwrap();
        assert_eq!(sub_i16.cif().abi(), Abi::Win64);
        assert_eq!(sub_i16.call(dyn_sub_i16_win64, (i16::MIN, 1)), i16::MAX);
        let sub_f64 = TypedCif::<unsafe extern "win64" fn(f64, f64) -> f64>::new().unwrap();
        assert_eq!(sub_f64.call(dyn_sub_f64_win64, (0.5, 2.0)), -1.5);
        let difb = TypedCif::<unsafe extern "win64" fn(Difb, i32) -> Difb>::new().unwrap();
        assert_eq!(difb.call(dyn_difb_op_win64, (x, 60)), want);
        let mixed = TypedCif::<
            unsafe extern "win64" fn(i32, f64, i32, f32, f64, f32, i8, f64) -> f64,
        >::new()
        .unwrap();
        let got = mixed.call(dyn_mixed_win64, (1, -2.5, -3, 4.25, -5.5, -6.75, 7, -8.125));
        assert_eq!(got, c::mixed(1, -2.5, -3, 4.25, -5.5, -6.75, 7, -8.125));
    }
}

#[test]
fn checked_calls_refuse_mismatches_without_calling() {
    // `dyn_counted` has the host's C convention.
    let code = CodePtr::new(c::dyn_counted as *const c_void);
    let one = Cif::new(Abi::DEFAULT, [Type::I64], Type::I64).unwrap();
    let three = Cif::new(Abi::DEFAULT, [Type::I64, Type::F64, Type::I32], Type::I64).unwrap();
    // SAFETY: for all calls below, `dyn_counted` is `int64_t (int64_t)`; the refused calls and
    // `three` never reach it.
    unsafe {
        let before = c::dyn_counter();
        assert_eq!(
            one.call::<i64>(code, &[]),
            Err(CallError::ArgCount {
                expected: 1,
                got: 0
            })
        );
        assert_eq!(
            one.call::<i64>(code, &[arg(&1i64), arg(&2i64)]),
            Err(CallError::ArgCount {
                expected: 1,
                got: 2
            })
        );
        assert_eq!(
            one.call::<i64>(code, &[arg(&1i32)]),
            Err(CallError::ArgType { index: 0 })
        );
        assert_eq!(
            one.call::<i64>(code, &[arg(&1u64)]),
            Err(CallError::ArgType { index: 0 }),
            "signedness is part of the type"
        );
        assert_eq!(
            one.call::<i64>(code, &[arg(&1.0f64)]),
            Err(CallError::ArgType { index: 0 })
        );
        assert_eq!(
            one.call::<i32>(code, &[arg(&1i64)]),
            Err(CallError::RetType)
        );
        assert_eq!(
            one.call::<u64>(code, &[arg(&1i64)]),
            Err(CallError::RetType)
        );
        assert_eq!(one.call::<()>(code, &[arg(&1i64)]), Err(CallError::RetType));
        assert_eq!(
            three.call::<i64>(code, &[arg(&1i64), arg(&2.0f64), arg(&3i64)]),
            Err(CallError::ArgType { index: 2 })
        );
        assert_eq!(
            three.call::<i64>(code, &[arg(&1i64), arg(&2.0f32), arg(&3i32)]),
            Err(CallError::ArgType { index: 1 })
        );
        assert_eq!(
            c::dyn_counter(),
            before,
            "a refused call reached the function"
        );
        assert_eq!(one.call::<i64>(code, &[arg(&41i64)]), Ok(42));
        assert_eq!(c::dyn_counter(), before + 1);
    }
}

#[test]
fn cif_accessors() {
    let cif = Cif::new_variadic(Abi::Win64, [Type::POINTER, Type::F64], 1, Type::I32).unwrap();
    assert_eq!(cif.abi(), Abi::Win64);
    assert_eq!(cif.nfixed(), Some(1));
    assert_eq!(cif.args(), &[Type::POINTER, Type::F64]);
    assert_eq!(cif.ret(), &Type::I32);
    let cif = Cif::new(Abi::DEFAULT, [], Type::VOID).unwrap();
    let host = if cfg!(windows) {
        Abi::Win64
    } else {
        Abi::SysV64
    };
    assert_eq!((cif.abi(), cif.nfixed()), (host, None));
    // Win64 callers always reserve the 32-byte home area of the four register arguments.
    assert_eq!(cif.stack_bytes(), if cfg!(windows) { 32 } else { 0 });
    // A Cif is Send + Sync and cloning keeps the plan.
    fn send_sync<T: Send + Sync>(_: &T) {}
    send_sync(&cif);
    assert_eq!(cif.clone().plan(), cif.plan());
}
