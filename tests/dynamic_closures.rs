//! Execution tests of dynamic closures (`Closure`, `RawClosure`, `TypedClosure`): C calls
//! Rust, in both x86_64 conventions, with interpreted and compiled (`Cif::compile`) closure
//! entries.
//!
//! Each closure implements the Rust mirror of a C reference function; a C checker
//! (`dyn_check_<op>_<abi>` in test-support/c/dynamic.c) calls it with fixed inputs and
//! compares every result with the reference function's, so arguments, return values and
//! the registers they travel in are all checked on the C side.

#![cfg(all(target_arch = "x86_64", feature = "global_jit_alloc"))]

use core::ffi::c_void;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use closure_ffi::dynamic::plan::ValueTypeError;
use closure_ffi::dynamic::{
    Abi, Args, CType, Cif, CifError, Closure, Complex, LongDouble, RawClosure, Ret, Type,
    TypedClosure, TypedClosureError,
};
use closure_ffi_test_support::dynamic::{
    self as c, DynBig, DynCcc, DynDd, DynDeep, DynDi, DynDifb, DynFarr, DynFf, DynFff, DynId,
    DynLl, DynNest, DynUni, Pair, Structs, Suite,
};

#[path = "common/dynamic.rs"]
mod shared;

use shared::{cif, suites, ty, x87_full_precision, Mode};

const SYSV_COMPILED: Mode = Mode {
    abi: Abi::SysV64,
    compiled: true,
};
const WIN64: Mode = Mode {
    abi: Abi::Win64,
    compiled: false,
};
/// The host's C convention (System V, or Win64 on Windows), for closures that C library
/// functions call.
const HOST: Mode = Mode {
    abi: Abi::DEFAULT,
    compiled: false,
};
/// [`HOST`], compiled where the compiler covers it (System V).
const HOST_COMPILED: Mode = Mode {
    abi: Abi::DEFAULT,
    compiled: true,
};

/// Runs `pair`'s checker against a closure with `cif` that calls `body`. `body` returns
/// `false` when it cannot read an argument or store the result (a panic would abort: it
/// cannot unwind through C).
fn run(label: &str, pair: Pair, cif: Cif, body: impl Fn(&Args<'_>, Ret<'_>) -> bool) {
    let failed = AtomicBool::new(false);
    let calls = AtomicUsize::new(0);
    let closure = Closure::new(cif, |args: &Args<'_>, ret: Ret<'_>| {
        calls.fetch_add(1, Ordering::Relaxed);
        if !body(args, ret) {
            failed.store(true, Ordering::Relaxed);
        }
    })
    .expect("closure memory");
    // SAFETY: the closure has the signature of `dyn_<op>`, which the checker calls it with.
    let result = unsafe { (pair.check)(closure.code_ptr().as_ptr()) };
    drop(closure);
    assert!(
        !failed.load(Ordering::Relaxed),
        "{label}: the closure could not read its arguments or store its result"
    );
    assert!(calls.load(Ordering::Relaxed) > 0, "{label}: never called");
    assert_eq!(result, 0, "{label}: wrong result for input {result}");
}

/// The body of a closure `T (T, T)` computing `f`, with checked argument and result types.
fn binary<T: CType>(f: fn(T, T) -> T) -> impl Fn(&Args<'_>, Ret<'_>) -> bool {
    move |args, ret| match (args.get::<T>(0), args.get::<T>(1)) {
        (Ok(a), Ok(b)) => ret.set(f(a, b)).is_ok(),
        _ => false,
    }
}

/// The body of a closure `S (S, int32_t)` computing `f`, for a `#[repr(C)]` mirror `S` of a
/// C struct (not a `CType`: the mirrors live in another crate). The Cif's types must be
/// those of `S`; their sizes are checked.
fn op<S: Copy>(f: fn(S, i32) -> S) -> impl Fn(&Args<'_>, Ret<'_>) -> bool {
    move |args, ret| {
        let sized =
            args.cif().args()[0].size() == size_of::<S>() && ret.ty().size() == size_of::<S>();
        let Ok(k) = args.get::<i32>(1) else {
            return false;
        };
        if !sized {
            return false;
        }
        // SAFETY: argument 0 and the return value have S's C type (the tests build the Cifs
        // that way; sizes checked above), and the return buffer holds one.
        unsafe {
            let x = args.get_unchecked::<S>(0);
            ret.as_ptr().cast::<S>().write_unaligned(f(x, k));
        }
        true
    }
}

#[test]
fn integer_scalars() {
    for (m, s) in suites() {
        let name = s.name;
        macro_rules! sub {
            ($field:ident, $t:ty, $ty:expr) => {
                run(
                    &format!("{name} {}", stringify!($field)),
                    s.$field,
                    cif(m, [$ty, $ty], $ty),
                    binary::<$t>(<$t>::wrapping_sub),
                )
            };
        }
        sub!(sub_u8, u8, Type::U8);
        sub!(sub_i8, i8, Type::I8);
        sub!(sub_u16, u16, Type::U16);
        sub!(sub_i16, i16, Type::I16);
        sub!(sub_u32, u32, Type::U32);
        sub!(sub_i32, i32, Type::I32);
        sub!(sub_u64, u64, Type::U64);
        sub!(sub_i64, i64, Type::I64);
        sub!(sub_u128, u128, Type::U128);
        sub!(sub_i128, i128, Type::I128);
    }
}

#[test]
fn float_scalars() {
    for (m, s) in suites() {
        let name = s.name;
        let f32s = cif(m, [Type::F32, Type::F32], Type::F32);
        run(
            &format!("{name} f32"),
            s.sub_f32,
            f32s,
            binary::<f32>(|a, b| a - b),
        );
        let f64s = cif(m, [Type::F64, Type::F64], Type::F64);
        run(
            &format!("{name} f64"),
            s.sub_f64,
            f64s,
            binary::<f64>(|a, b| a - b),
        );
        // The checker's inputs and results are all exact in f64.
        let lds = cif(m, [Type::LONG_DOUBLE; 2], Type::LONG_DOUBLE);
        let sub = binary::<LongDouble>(|a, b| LongDouble::from_f64(a.to_f64() - b.to_f64()));
        run(&format!("{name} long double"), s.sub_ld, lds, sub);
    }
}

#[test]
fn long_double_keeps_the_full_mantissa() {
    // The C checker computes its reference in long double arithmetic on this thread.
    x87_full_precision();
    for (m, s) in suites() {
        // `x + 2^-60` for x in [1, 2): add 8 to the 64-bit mantissa, no f64 in between.
        let bump = |args: &Args<'_>, ret: Ret<'_>| -> bool {
            let Ok(mut x) = args.get::<LongDouble>(0) else {
                return false;
            };
            let mant = u64::from_le_bytes(x.0[..8].try_into().unwrap_or_default()) + 8;
            x.0[..8].copy_from_slice(&mant.to_le_bytes());
            ret.set(x).is_ok()
        };
        let cif = cif(m, [Type::LONG_DOUBLE], Type::LONG_DOUBLE);
        run(&format!("{} ld_bump", s.name), s.ld_bump, cif, bump);
    }
}

#[test]
fn long_double_returns_keep_the_x87_stack_balanced() {
    for (m, s) in suites() {
        // The checker calls this 20 times; an unbalanced x87 stack overflows after 8.
        let count = |args: &Args<'_>, ret: Ret<'_>| -> bool {
            let Ok(calls) = args.get::<*mut i64>(0) else {
                return false;
            };
            // SAFETY: the checker passes the address of its counter.
            unsafe { *calls += 1 };
            ret.set(LongDouble::from_f64(2.5)).is_ok()
        };
        let cif = cif(m, [Type::POINTER], Type::LONG_DOUBLE);
        run(&format!("{} ld_count", s.name), s.ld_count, cif, count);
    }
}

#[test]
fn pointers_and_every_integer_kind() {
    for (m, s) in suites() {
        let add = |args: &Args<'_>, ret: Ret<'_>| -> bool {
            match (args.get::<*mut c_void>(0), args.get::<i64>(1)) {
                (Ok(p), Ok(off)) => ret.set(p.wrapping_byte_offset(off as isize)).is_ok(),
                _ => false,
            }
        };
        let ptr_add = cif(m, [Type::POINTER, Type::I64], Type::POINTER);
        run(&format!("{} ptr_add", s.name), s.ptr_add, ptr_add, add);

        let ints = |args: &Args<'_>, ret: Ret<'_>| -> bool {
            let read = || -> Result<i64, closure_ffi::dynamic::CallError> {
                let p = args.get::<*const i64>(8)?;
                // SAFETY: the checker passes the address of a static.
                let target = unsafe { *p };
                Ok(c::ints(
                    args.get(0)?,
                    args.get(1)?,
                    args.get(2)?,
                    args.get(3)?,
                    args.get(4)?,
                    args.get(5)?,
                    args.get(6)?,
                    args.get(7)?,
                    target,
                ))
            };
            read().is_ok_and(|v| ret.set(v).is_ok())
        };
        let types = [
            Type::U8,
            Type::I8,
            Type::U16,
            Type::I16,
            Type::U32,
            Type::I32,
            Type::U64,
            Type::I64,
            Type::POINTER,
        ];
        run(
            &format!("{} ints", s.name),
            s.ints,
            cif(m, types, Type::I64),
            ints,
        );
    }
}

/// A closure `(T) -> T` computing `raw - 10`, called by `dyn_call_raw` with a full 64-bit
/// register: the closure must read only the low bytes and widen its result to 8 bytes.
fn raw_sub_10<T: CType>(m: Mode, s: &Suite, sub: fn(T) -> T, raw: u64) -> u64 {
    let closure = Closure::new(cif(m, [T::ffi_type()], T::ffi_type()), move |args, ret| {
        if let Ok(x) = args.get::<T>(0) {
            let _ = ret.set(sub(x));
        }
    })
    .expect("closure memory");
    // SAFETY: the closure takes and returns one integer-class value, which the caller passes
    // and reads as a full register.
    unsafe { (s.call_raw)(closure.code_ptr().as_ptr(), raw) }
}

#[test]
fn narrow_integers_are_read_narrow_and_returned_widened() {
    let high = 0xDEAD_BEEF_0000_0000u64;
    for (m, s) in suites() {
        let i8s = |raw| raw_sub_10::<i8>(m, &s, |x| x.wrapping_sub(10), raw);
        assert_eq!(i8s(high | 0x85), 123, "{m:?} i8: -123 - 10 wraps to 123");
        assert_eq!(i8s(high | 0x05), -5i64 as u64, "{m:?} i8 sign-extended");
        let u8s = |raw| raw_sub_10::<u8>(m, &s, |x| x.wrapping_sub(10), raw);
        assert_eq!(u8s(high | 0x05), 0xFB, "{m:?} u8 zero-extended");
        let i16s = |raw| raw_sub_10::<i16>(m, &s, |x| x.wrapping_sub(10), raw);
        assert_eq!(i16s(high | 0x0005), -5i64 as u64, "{m:?} i16");
        let u16s = |raw| raw_sub_10::<u16>(m, &s, |x| x.wrapping_sub(10), raw);
        assert_eq!(u16s(high | 0x0005), 0xFFFB, "{m:?} u16");
        let i32s = |raw| raw_sub_10::<i32>(m, &s, |x| x.wrapping_sub(10), raw);
        assert_eq!(i32s(high | 0x0000_0005), -5i64 as u64, "{m:?} i32");
        let u32s = |raw| raw_sub_10::<u32>(m, &s, |x| x.wrapping_sub(10), raw);
        assert_eq!(u32s(high | 0x0000_0005), 0xFFFF_FFFB, "{m:?} u32");
        let u64s = |raw| raw_sub_10::<u64>(m, &s, |x| x.wrapping_sub(10), raw);
        assert_eq!(u64s(high | 5), high.wrapping_sub(5), "{m:?} u64");
    }
}

#[test]
fn complex_values() {
    fn mul<
        T: Copy + core::ops::Mul<Output = T> + core::ops::Add<Output = T> + core::ops::Sub<Output = T>,
    >(
        a: Complex<T>,
        b: Complex<T>,
    ) -> Complex<T> {
        Complex {
            re: a.re * b.re - a.im * b.im,
            im: a.re * b.im + a.im * b.re,
        }
    }
    for (m, s) in suites() {
        let name = s.name;
        let cf = Type::complex_f32();
        let cif_f = cif(m, [cf.clone(), cf.clone()], cf);
        run(
            &format!("{name} cmul_f"),
            s.cmul_f,
            cif_f,
            binary(mul::<f32>),
        );
        let cd = Type::complex_f64();
        let cif_d = cif(m, [cd.clone(), cd.clone()], cd);
        run(
            &format!("{name} cmul_d"),
            s.cmul_d,
            cif_d,
            binary(mul::<f64>),
        );
        // long double _Complex: returned in st0 and st1 on System V. The checker's values are
        // exact in f64.
        let cl = Type::complex_long_double();
        let cif_l = cif(m, [cl.clone(), cl.clone()], cl);
        fn to(z: Complex<LongDouble>) -> Complex<f64> {
            Complex {
                re: z.re.to_f64(),
                im: z.im.to_f64(),
            }
        }
        let mul_ld = |a: Complex<LongDouble>, b: Complex<LongDouble>| {
            let z = mul(to(a), to(b));
            Complex {
                re: LongDouble::from_f64(z.re),
                im: LongDouble::from_f64(z.im),
            }
        };
        run(&format!("{name} cmul_ld"), s.cmul_ld, cif_l, binary(mul_ld));
    }
}

#[test]
fn structs_by_value_and_returned() {
    for (m, s) in suites() {
        let name = s.name;
        // Boxed so that one closure type serves every struct.
        type Body = Box<dyn Fn(&Args<'_>, Ret<'_>) -> bool>;
        let check = |label: &str, pair: Pair, ty: Type, body: Body| {
            run(
                &format!("{name} {label}"),
                pair,
                cif(m, [ty.clone(), Type::I32], ty),
                body,
            )
        };
        let cases: [(&str, Pair, Type, Body); 13] = [
            ("ff", s.ff_op, ty::ff(), Box::new(op::<DynFf>(c::ff_op))),
            ("di", s.di_op, ty::di(), Box::new(op::<DynDi>(c::di_op))),
            ("id", s.id_op, ty::id(), Box::new(op::<DynId>(c::id_op))),
            (
                "ccc",
                s.ccc_op,
                ty::ccc(),
                Box::new(op::<DynCcc>(c::ccc_op)),
            ),
            (
                "fff",
                s.fff_op,
                ty::fff(),
                Box::new(op::<DynFff>(c::fff_op)),
            ),
            ("dd", s.dd_op, ty::dd(), Box::new(op::<DynDd>(c::dd_op))),
            (
                "difb",
                s.difb_op,
                ty::difb(),
                Box::new(op::<DynDifb>(c::difb_op)),
            ),
            (
                "big",
                s.big_op,
                ty::big(),
                Box::new(op::<DynBig>(c::big_op)),
            ),
            (
                "nest",
                s.nest_op,
                ty::nest(),
                Box::new(op::<DynNest>(c::nest_op)),
            ),
            (
                "farr",
                s.farr_op,
                ty::farr(),
                Box::new(op::<DynFarr>(c::farr_op)),
            ),
            (
                "uni",
                s.uni_op,
                ty::uni(),
                Box::new(op::<DynUni>(c::uni_op)),
            ),
            (
                "deep",
                s.deep_op,
                ty::deep(),
                Box::new(op::<DynDeep>(c::deep_op)),
            ),
            ("ll", s.ll_op, ty::ll(), Box::new(op::<DynLl>(c::ll_op))),
        ];
        for (label, pair, ty, body) in cases {
            check(label, pair, ty, body);
        }
    }
}

#[test]
fn thirteen_structs_in_one_call() {
    let types = || {
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
        ]
    };
    let body = |args: &Args<'_>, ret: Ret<'_>| -> bool {
        // SAFETY: the Cif's argument types are those of the mirrors, in this order.
        let v = unsafe {
            Structs {
                a: args.get_unchecked(0),
                b: args.get_unchecked(1),
                c: args.get_unchecked(2),
                d: args.get_unchecked(3),
                e: args.get_unchecked(4),
                f: args.get_unchecked(5),
                g: args.get_unchecked(6),
                h: args.get_unchecked(7),
                i: args.get_unchecked(8),
                j: args.get_unchecked(9),
                k: args.get_unchecked(10),
                l: args.get_unchecked(11),
                m: args.get_unchecked(12),
            }
        };
        ret.set(c::structs(&v)).is_ok()
    };
    for (m, s) in suites() {
        let cif = cif(m, types(), Type::F64);
        run(&format!("{} structs", s.name), s.structs, cif, body);
    }
}

#[test]
fn twenty_two_arguments_overflow_both_register_files() {
    let body = |args: &Args<'_>, ret: Ret<'_>| -> bool {
        let read = || -> Result<f64, closure_ffi::dynamic::CallError> {
            let p8 = args.get::<*const i64>(16)?;
            // SAFETY: the checker passes the address of a static.
            let p8 = unsafe { *p8 };
            Ok(c::many(
                args.get(0)?,
                args.get(1)?,
                args.get(2)?,
                args.get(3)?,
                args.get(4)?,
                args.get(5)?,
                args.get(6)?,
                args.get(7)?,
                args.get(8)?,
                args.get(9)?,
                args.get(10)?,
                args.get(11)?,
                args.get(12)?,
                args.get(13)?,
                args.get(14)?,
                args.get(15)?,
                p8,
                args.get(17)?,
                args.get(18)?,
                args.get(19)?,
                args.get(20)?,
                args.get(21)?,
            ))
        };
        read().is_ok_and(|v| ret.set(v).is_ok())
    };
    for (m, s) in suites() {
        let types = [
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
        ];
        run(
            &format!("{} many", s.name),
            s.many,
            cif(m, types, Type::F64),
            body,
        );
    }
}

#[test]
fn floats_and_integers_interleaved() {
    let body = |args: &Args<'_>, ret: Ret<'_>| -> bool {
        let read = || -> Result<f64, closure_ffi::dynamic::CallError> {
            Ok(c::mixed(
                args.get(0)?,
                args.get(1)?,
                args.get(2)?,
                args.get(3)?,
                args.get(4)?,
                args.get(5)?,
                args.get(6)?,
                args.get(7)?,
            ))
        };
        read().is_ok_and(|v| ret.set(v).is_ok())
    };
    for (m, s) in suites() {
        let types = [
            Type::I32,
            Type::F64,
            Type::I32,
            Type::F32,
            Type::F64,
            Type::F32,
            Type::I8,
            Type::F64,
        ];
        run(
            &format!("{} mixed", s.name),
            s.mixed,
            cif(m, types, Type::F64),
            body,
        );
    }
}

#[test]
fn stack_arguments() {
    for (m, s) in suites() {
        let name = s.name;

        // Five i64, a two-GPR struct (whole to the stack on System V), one more i64.
        let spill_int = |args: &Args<'_>, ret: Ret<'_>| -> bool {
            let read = || -> Result<i64, closure_ffi::dynamic::CallError> {
                // SAFETY: argument 5 is a dyn_ll.
                let ll = unsafe { args.get_unchecked::<DynLl>(5) };
                Ok(c::spill_int(
                    args.get(0)?,
                    args.get(1)?,
                    args.get(2)?,
                    args.get(3)?,
                    args.get(4)?,
                    ll,
                    args.get(6)?,
                ))
            };
            read().is_ok_and(|v| ret.set(v).is_ok())
        };
        let mut types = vec![Type::I64; 5];
        types.extend([ty::ll(), Type::I64]);
        let cif_int = m.prepare(Cif::new(m.abi, types, Type::I64).unwrap());
        run(
            &format!("{name} spill_int"),
            s.spill_int,
            cif_int,
            spill_int,
        );

        // Seven doubles, a two-SSE struct, one more double.
        let spill_sse = |args: &Args<'_>, ret: Ret<'_>| -> bool {
            let read = || -> Result<f64, closure_ffi::dynamic::CallError> {
                // SAFETY: argument 7 is a dyn_dd.
                let dd = unsafe { args.get_unchecked::<DynDd>(7) };
                Ok(c::spill_sse(
                    args.get(0)?,
                    args.get(1)?,
                    args.get(2)?,
                    args.get(3)?,
                    args.get(4)?,
                    args.get(5)?,
                    args.get(6)?,
                    dd,
                    args.get(8)?,
                ))
            };
            read().is_ok_and(|v| ret.set(v).is_ok())
        };
        let mut types = vec![Type::F64; 7];
        types.extend([ty::dd(), Type::F64]);
        let cif_sse = m.prepare(Cif::new(m.abi, types, Type::F64).unwrap());
        run(
            &format!("{name} spill_sse"),
            s.spill_sse,
            cif_sse,
            spill_sse,
        );

        // __int128 and long double on the stack, 16-aligned.
        let align = |args: &Args<'_>, ret: Ret<'_>| -> bool {
            let read = || -> Result<u128, closure_ffi::dynamic::CallError> {
                let y = args.get::<LongDouble>(8)?.to_f64() as i64;
                Ok(c::stack_align(
                    args.get(0)?,
                    args.get(1)?,
                    args.get(2)?,
                    args.get(3)?,
                    args.get(4)?,
                    args.get(5)?,
                    args.get(6)?,
                    args.get(7)?,
                    y,
                    args.get(9)?,
                    args.get(10)?,
                ))
            };
            read().is_ok_and(|v| ret.set(v).is_ok())
        };
        let types = [
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
        ];
        let cif_align = cif(m, types, Type::U128);
        run(
            &format!("{name} stack_align"),
            s.stack_align,
            cif_align,
            align,
        );
    }
}

#[test]
fn void_and_hidden_pointer_returns() {
    for (m, s) in suites() {
        let name = s.name;
        let store = |args: &Args<'_>, ret: Ret<'_>| -> bool {
            match (args.get::<*mut i64>(0), args.get::<i64>(1)) {
                (Ok(dst), Ok(v)) => {
                    // SAFETY: the checker passes the address of its variable.
                    unsafe { *dst = v.wrapping_mul(2).wrapping_add(1) };
                    ret.set(()).is_ok()
                }
                _ => false,
            }
        };
        let cif_store = cif(m, [Type::POINTER, Type::I64], Type::VOID);
        run(&format!("{name} store"), s.store, cif_store, store);

        // dyn_big comes back through the caller's hidden pointer, which the closure's `Ret`
        // points at.
        let make = |args: &Args<'_>, ret: Ret<'_>| -> bool {
            let (Ok(seed), Ok(calls)) = (args.get::<i64>(0), args.get::<*mut i64>(1)) else {
                return false;
            };
            if ret.ty().size() != size_of::<DynBig>() {
                return false;
            }
            // SAFETY: the checker passes its counter; the return type is dyn_big.
            unsafe {
                *calls += 1;
                ret.as_ptr()
                    .cast::<DynBig>()
                    .write_unaligned(c::big_make(seed));
            }
            true
        };
        let cif_make = cif(m, [Type::I64, Type::POINTER], ty::big());
        run(&format!("{name} big_make"), s.big_make, cif_make, make);
    }
}

/// The state of the raw callback below.
struct RawState {
    calls: AtomicUsize,
    nargs_seen: AtomicUsize,
}

/// A libffi-style callback: `*ret = a - b` for `int32_t (int32_t, int32_t)`.
///
/// # Safety
/// Called by a closure over a `RawState` with a Cif of that signature.
unsafe extern "C" fn raw_sub_i32(
    cif: *const Cif,
    ret: *mut c_void,
    args: *const *mut c_void,
    user_data: *mut c_void,
) {
    // SAFETY: the closure passes its Cif, a return buffer for an int32_t (at least 8 bytes),
    // one pointer per argument, and the user data it was created with.
    unsafe {
        let state = &*user_data.cast::<RawState>();
        state.calls.fetch_add(1, Ordering::Relaxed);
        state
            .nargs_seen
            .store((*cif).args().len(), Ordering::Relaxed);
        let a = *(*args).cast::<i32>();
        let b = *(*args.add(1)).cast::<i32>();
        ret.cast::<i32>().write(a.wrapping_sub(b));
    }
}

#[test]
fn raw_closures_with_user_data() {
    for (m, s) in suites() {
        let state = RawState {
            calls: AtomicUsize::new(0),
            nargs_seen: AtomicUsize::new(0),
        };
        let cif = cif(m, [Type::I32, Type::I32], Type::I32);
        // SAFETY: `state` outlives the closure; the callback matches the Cif.
        let closure: RawClosure<_> = unsafe {
            RawClosure::from_raw(
                cif,
                raw_sub_i32,
                (&state as *const RawState).cast_mut().cast(),
            )
        }
        .expect("closure memory");
        // SAFETY: the closure is `int32_t (int32_t, int32_t)` in this ABI.
        let result = unsafe { (s.sub_i32.check)(closure.code_ptr().as_ptr()) };
        assert_eq!(result, 0, "{m:?}");
        // The checker has three inputs.
        assert_eq!(state.calls.load(Ordering::Relaxed), 3, "{m:?}");
        assert_eq!(state.nargs_seen.load(Ordering::Relaxed), 2, "{m:?}");
        assert_eq!(closure.cif().abi(), m.abi);
    }
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

// SAFETY: `ty::difb()` is exactly this struct's layout (`dyn_difb` in c/dynamic.c).
unsafe impl CType for Difb {
    fn ffi_type() -> Type {
        ty::difb()
    }
}

fn difb_op(x: Difb, k: i32) -> Difb {
    let r = c::difb_op(
        DynDifb {
            d: x.d,
            i: x.i,
            f: x.f,
            b: x.b,
        },
        k,
    );
    Difb {
        d: r.d,
        i: r.i,
        f: r.f,
        b: r.b,
    }
}

fn send_sync<T: Send + Sync>(_: &T) {}

#[test]
fn typed_closures_capture_state() {
    let s = c::sysv();
    let w = c::win64();
    let calls = Arc::new(AtomicUsize::new(0));

    let counter = Arc::clone(&calls);
    let sub = TypedClosure::<extern "sysv64" fn(i32, i32) -> i32, _>::new(move |a: i32, b: i32| {
        counter.fetch_add(1, Ordering::Relaxed);
        a.wrapping_sub(b)
    })
    .expect("closure memory");
    send_sync(&sub);
    // SAFETY: the typed closure outlives every call through this pointer.
    let f = unsafe { sub.fn_ptr() };
    assert_eq!(f(5, 7), -2, "called from Rust");
    // SAFETY: the closure is `int32_t (int32_t, int32_t)`.
    assert_eq!(unsafe { (s.sub_i32.check)(f as *const c_void) }, 0);
    assert_eq!(calls.load(Ordering::Relaxed), 1 + 3);

    let offset = 0i64; // captured by reference: the closure is not 'static
    let sub_w = TypedClosure::<extern "win64" fn(i64, i64) -> i64, _>::new(|a: i64, b: i64| {
        a.wrapping_sub(b).wrapping_add(offset)
    })
    .expect("closure memory");
    // SAFETY: the typed closure outlives every call through this pointer.
    let g = unsafe { sub_w.fn_ptr() };
    assert_eq!(g(i64::MIN, 1), i64::MAX, "called from Rust");
    // SAFETY: the closure is `int64_t (int64_t, int64_t)`, ms_abi.
    assert_eq!(unsafe { (w.sub_i64.check)(g as *const c_void) }, 0);

    // Structs through hidden pointers, both conventions.
    let op_c = TypedClosure::<extern "sysv64" fn(Difb, i32) -> Difb, _>::new(difb_op).unwrap();
    // SAFETY: the closure is `dyn_difb (dyn_difb, int32_t)`.
    let result = unsafe { (s.difb_op.check)(op_c.fn_ptr() as *const c_void) };
    assert_eq!(result, 0);
    let op_w = TypedClosure::<extern "win64" fn(Difb, i32) -> Difb, _>::new(difb_op).unwrap();
    // SAFETY: as above, ms_abi.
    let result = unsafe { (w.difb_op.check)(op_w.fn_ptr() as *const c_void) };
    assert_eq!(result, 0);
    let x = Difb {
        d: 1.5,
        i: 2,
        f: 0.5,
        b: 3,
    };
    // SAFETY: the typed closure outlives every call through this pointer.
    let op_w_fn = unsafe { op_w.fn_ptr() };
    assert_eq!(op_w_fn(x, 4), difb_op(x, 4), "called from Rust");

    // long double on System V: Rust would pass `LongDouble` as a 16-byte struct, not as an
    // x87 value, so a typed signature cannot express it and is refused.
    let bump = TypedClosure::<extern "sysv64" fn(LongDouble) -> LongDouble, _>::new(|x| x);
    assert!(matches!(
        bump.err(),
        Some(TypedClosureError::Cif(CifError::BadArgType {
            index: 0,
            reason: ValueTypeError::NoRustEquivalent
        }))
    ));

    // The typed closure is a dynamic closure underneath.
    assert_eq!(sub.as_closure().cif().args(), &[Type::I32, Type::I32]);
}

#[test]
fn closures_are_send_and_sync_and_run_on_many_threads() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 500;
    for (m, s) in suites() {
        let calls = AtomicUsize::new(0);
        let closure = Closure::new(cif(m, [Type::I64, Type::I64], Type::I64), |args, ret| {
            calls.fetch_add(1, Ordering::Relaxed);
            if let (Ok(a), Ok(b)) = (args.get::<i64>(0), args.get::<i64>(1)) {
                let _ = ret.set(a.wrapping_sub(b));
            }
        })
        .expect("closure memory");
        send_sync(&closure);
        let check = s.sub_i64.check;
        thread::scope(|scope| {
            for _ in 0..THREADS {
                let closure = &closure;
                scope.spawn(move || {
                    for _ in 0..ROUNDS {
                        // SAFETY: the closure is `int64_t (int64_t, int64_t)` in this ABI and
                        // outlives the scope.
                        assert_eq!(unsafe { check(closure.code_ptr().as_ptr()) }, 0);
                    }
                });
            }
        });
        // Three inputs per check.
        assert_eq!(calls.load(Ordering::Relaxed), THREADS * ROUNDS * 3, "{m:?}");
    }

    // A closure made on one thread is called and dropped on another.
    let s = c::sysv();
    let closure = Closure::new(
        cif(SYSV_COMPILED, [Type::U8, Type::U8], Type::U8),
        binary_u8,
    )
    .expect("closure memory");
    let check = s.sub_u8.check;
    thread::spawn(move || {
        // SAFETY: the closure is `uint8_t (uint8_t, uint8_t)`.
        assert_eq!(unsafe { check(closure.code_ptr().as_ptr()) }, 0);
        drop(closure);
    })
    .join()
    .unwrap();
}

fn binary_u8(args: &Args<'_>, ret: Ret<'_>) {
    if let (Ok(a), Ok(b)) = (args.get::<u8>(0), args.get::<u8>(1)) {
        let _ = ret.set(a.wrapping_sub(b));
    }
}

extern "C" {
    fn qsort(
        base: *mut c_void,
        nmemb: usize,
        size: usize,
        compar: unsafe extern "C" fn(*const c_void, *const c_void) -> i32,
    );
}

type Compare = unsafe extern "C" fn(*const c_void, *const c_void) -> i32;

#[test]
fn qsort_with_a_dynamic_comparator() {
    // Descending i32, with a comparison count.
    let compared = Cell::new(0usize);
    let cmp = Closure::new(
        cif(HOST, [Type::POINTER, Type::POINTER], Type::I32),
        |args, ret| {
            compared.set(compared.get() + 1);
            if let (Ok(a), Ok(b)) = (args.get::<*const i32>(0), args.get::<*const i32>(1)) {
                // SAFETY: qsort passes pointers to elements of the array.
                let (a, b) = unsafe { (*a, *b) };
                let _ = ret.set(b.cmp(&a) as i32);
            }
        },
    )
    .expect("closure memory");
    let mut state = 12345u32;
    let mut values: Vec<i32> = (0..1000)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (state >> 8) as i32 - (1 << 22)
        })
        .collect();
    let mut want = values.clone();
    want.sort_unstable_by(|a, b| b.cmp(a));
    // SAFETY: the closure is `int (const void *, const void *)`; the array holds `len`
    // elements of 4 bytes.
    unsafe {
        qsort(
            values.as_mut_ptr().cast(),
            values.len(),
            size_of::<i32>(),
            cmp.fn_ptr::<Compare>(),
        )
    };
    assert_eq!(values, want);
    assert!(compared.get() >= values.len() - 1);

    // Structs by (i, d), through unchecked reads.
    let cmp = Closure::new(
        cif(HOST_COMPILED, [Type::POINTER, Type::POINTER], Type::I32),
        |args, ret| {
            // SAFETY: qsort passes two pointers to elements, which are DynDi.
            let (a, b) = unsafe {
                (
                    *args.get_unchecked::<*const DynDi>(0),
                    *args.get_unchecked::<*const DynDi>(1),
                )
            };
            let order = a.i.cmp(&b.i).then(a.d.total_cmp(&b.d));
            let _ = ret.set(order as i32);
        },
    )
    .expect("closure memory");
    let mut items: Vec<DynDi> = (0..200)
        .map(|k| DynDi {
            d: f64::from((k * 37) % 11) - 5.5,
            i: (k * 13) % 7 - 3,
        })
        .collect();
    let mut want = items.clone();
    want.sort_by(|a, b| a.i.cmp(&b.i).then(a.d.total_cmp(&b.d)));
    // SAFETY: as above, with 16-byte elements.
    unsafe {
        qsort(
            items.as_mut_ptr().cast(),
            items.len(),
            size_of::<DynDi>(),
            cmp.fn_ptr::<Compare>(),
        )
    };
    assert_eq!(items, want);
}

#[test]
fn closure_accessors() {
    let cif = cif(WIN64, [Type::F32, ty::ccc()], Type::I8);
    let closure = Closure::new(cif, |_args, ret| {
        let _ = ret.set(-1i8);
    })
    .expect("closure memory");
    assert_eq!(closure.cif().args(), &[Type::F32, ty::ccc()]);
    assert_eq!(closure.cif().ret(), &Type::I8);
    assert!(!closure.code_ptr().as_ptr().is_null());
    assert!(format!("{closure:?}").contains("Closure"));
    // Many closures, each with its own code.
    let closures: Vec<_> = (0..64)
        .map(|k| {
            Closure::new(cif_u64(), move |_args, ret| {
                let _ = ret.set(k as u64);
            })
            .expect("closure memory")
        })
        .collect();
    for (k, closure) in closures.iter().enumerate() {
        // SAFETY: the closure is `uint64_t (void)`, System V.
        let f: extern "sysv64" fn() -> u64 = unsafe { closure.fn_ptr() };
        assert_eq!(f(), k as u64);
    }
}

fn cif_u64() -> Cif {
    cif(SYSV_COMPILED, [], Type::U64)
}
