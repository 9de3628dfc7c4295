//! Dynamic-layer benchmarks against a direct call and against the system libffi (through
//! the `libffi` crate, feature `system`), side by side in one run.
//!
//! Groups (each has `direct`, `ours*` and `libffi` entries where they apply). `ours` uses a
//! prepared [`Cif`] (the plan's interpreter), `ours_compiled` the same Cif after
//! [`Cif::compile`] (a JIT stub; the entry is left out when compile declines the plan):
//! - `call_add2`: `uint64_t add2(uint64_t, uint64_t)`; `ours*` is [`Cif::call_raw`],
//!   `ours_typed` is [`TypedCif::call`], `libffi` is `ffi_call` on a prepared `ffi_cif`;
//! - `call_struct24`: `struct S24 f(struct S24)` with
//!   `struct S24 { double d; int32_t i; float f; uint8_t b; }` (passed and returned in
//!   memory);
//! - `call_mixed8`: `double f(int32_t, double, int64_t, float, uint8_t, double, int16_t,
//!   double)`;
//! - `closure_call`: a closure `uint64_t (uint64_t, uint64_t)` called through its code
//!   pointer: a plain `extern "C" fn` (`direct`), our [`Closure`] with checked
//!   (`ours_closure`) and unchecked (`ours_closure_unchecked`) argument access, our
//!   [`RawClosure`] (`ours_raw`), the same three over a compiled Cif (`*_compiled`: a
//!   compiled closure entry), our [`TypedClosure`], and a libffi closure;
//! - `closure_create_drop`: creating and dropping one such closure. Ours takes its Cif by
//!   value, so `ours_*` include cloning a prepared Cif (`ours_cif_clone` alone is in
//!   `prep_cif3`); libffi's closure borrows a prepared `ffi_cif`;
//! - `prep_cif3`, `prep_cif_mixed8`: preparing a Cif for three `int64_t` arguments and for
//!   the `call_mixed8` signature. Ours builds its argument list from an array and is
//!   dropped inside the measurement; `ours_compile` adds [`Cif::compile`]. libffi's
//!   `ffi_prep_cif` fills a caller-owned `ffi_cif` from a static type array and allocates
//!   nothing.
//!
//! The "C" callees are Rust `extern "C"` functions that are never inlined: the same ABI,
//! which is what a call-overhead benchmark needs. Every callee and closure is reached
//! through a pointer hidden by `black_box`, so all entries are indirect calls.
//!
//! Run: `cargo bench --bench dynamic` (needs the system libffi: `libffi-dev` on Debian).

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn

#[cfg(target_arch = "x86_64")]
criterion::criterion_main!(x86_64::benches);

/// The dynamic layer runs on x86_64 only: elsewhere there is nothing to measure.
#[cfg(not(target_arch = "x86_64"))]
fn main() {}

#[cfg(target_arch = "x86_64")]
mod common;

#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use crate::common::*;
    use core::ffi::c_void;
    use core::ptr::{addr_of_mut, null_mut};
    use std::hint::black_box;

    use closure_ffi::dynamic::{
        Abi, Cif, Closure, CodePtr, RawClosure, Type, TypedCif, TypedClosure,
    };
    use criterion::{criterion_group, Criterion};
    use libffi::low::{self, ffi_cif, types};
    use libffi::raw;

    /// `cif` compiled, or `None` if [`Cif::compile`] declines its plan.
    fn compiled(cif: &Cif) -> Option<Cif> {
        let mut cif = cif.clone();
        cif.compile().expect("JIT memory").then_some(cif)
    }

    /// The Cifs a call or closure group measures: `("ours", cif)` and, when the plan compiles,
    /// `("ours_compiled", compiled)`.
    fn variants(cif: Cif) -> Vec<(&'static str, Cif)> {
        let compiled = compiled(&cif);
        let mut out = vec![("ours", cif)];
        out.extend(compiled.map(|c| ("ours_compiled", c)));
        out
    }

    // ---- Calls ----------------------------------------------------------------------------

    fn call_add2(c: &mut Criterion) {
        let mut g = c.benchmark_group("call_add2");
        g.bench_function("direct", |b| {
            let f: Add2 = black_box(add2);
            let mut x = 0u64;
            b.iter(|| x = f(black_box(x), 3));
            black_box(x);
        });

        for (name, cif) in variants(add2_cif()) {
            g.bench_function(name, |b| {
                let fun = code_ptr::<Add2>(black_box(add2));
                let mut x = 0u64;
                b.iter(|| {
                    let (mut a, mut b3, mut ret) = (black_box(x), 3u64, 0u64);
                    let avalue = [addr_of_mut!(a).cast(), addr_of_mut!(b3).cast()];
                    // SAFETY: `fun` is `add2`, whose signature the Cif describes; `avalue`
                    // points at two u64 and `ret` holds a u64.
                    unsafe { cif.call_raw(fun, addr_of_mut!(ret).cast(), avalue.as_ptr()) };
                    x = ret;
                });
                black_box(x);
            });
        }

        let typed = TypedCif::<Add2>::new().unwrap();
        g.bench_function("ours_typed", |b| {
            let f: Add2 = black_box(add2);
            let mut x = 0u64;
            // SAFETY: the same as calling `add2(x, 3)`.
            b.iter(|| x = unsafe { typed.call(f, (black_box(x), 3)) });
            black_box(x);
        });

        let mut ffi = FfiCif::add2();
        g.bench_function("libffi", |b| {
            let fun = libffi_fn::<Add2>(black_box(add2));
            let cif = ffi.as_ptr();
            let mut x = 0u64;
            b.iter(|| {
                let (mut a, mut b3, mut ret) = (black_box(x), 3u64, 0u64);
                let mut avalue = [addr_of_mut!(a).cast(), addr_of_mut!(b3).cast()];
                // SAFETY: as for `ours`, with a cif prepared for `add2`.
                unsafe { raw::ffi_call(cif, fun, addr_of_mut!(ret).cast(), avalue.as_mut_ptr()) };
                x = ret;
            });
            black_box(x);
        });
        g.finish();
    }

    fn call_struct24(c: &mut Criterion) {
        let start = S24 {
            d: 0.0,
            i: 1,
            f: 2.0,
            b: 3,
        };
        let mut g = c.benchmark_group("call_struct24");
        g.bench_function("direct", |b| {
            let f: Struct24Fn = black_box(struct24);
            let mut s = start;
            b.iter(|| s = f(black_box(s)));
            black_box(s);
        });

        let cif = Cif::new(Abi::DEFAULT, [s24_type()], s24_type()).unwrap();
        for (name, cif) in variants(cif) {
            g.bench_function(name, |b| {
                let fun = code_ptr::<Struct24Fn>(black_box(struct24));
                let mut s = start;
                b.iter(|| {
                    let mut arg = black_box(s);
                    let avalue = [addr_of_mut!(arg).cast()];
                    // SAFETY: `fun` is `struct24`, whose signature the Cif describes; the
                    // argument and the return buffer are S24 values.
                    unsafe { cif.call_raw(fun, addr_of_mut!(s).cast(), avalue.as_ptr()) };
                });
                black_box(s);
            });
        }

        let mut ffi = FfiCif::struct24();
        g.bench_function("libffi", |b| {
            let fun = libffi_fn::<Struct24Fn>(black_box(struct24));
            let cif = ffi.as_ptr();
            let mut s = start;
            b.iter(|| {
                let mut arg = black_box(s);
                let mut avalue = [addr_of_mut!(arg).cast()];
                // SAFETY: as for `ours`, with a cif prepared for `struct24`.
                unsafe { raw::ffi_call(cif, fun, addr_of_mut!(s).cast(), avalue.as_mut_ptr()) };
            });
            black_box(s);
        });
        g.finish();
    }

    /// The argument pointers of one `mixed8` call, in `avalue` order.
    struct Mixed8Args(i32, f64, i64, f32, u8, f64, i16, f64);

    impl Mixed8Args {
        fn new() -> Self {
            let (a, b, c, d, e, f, g, h) = black_box(MIXED8_ARGS);
            Self(a, b, c, d, e, f, g, h)
        }

        fn avalue(&mut self) -> [*mut c_void; 8] {
            [
                addr_of_mut!(self.0).cast(),
                addr_of_mut!(self.1).cast(),
                addr_of_mut!(self.2).cast(),
                addr_of_mut!(self.3).cast(),
                addr_of_mut!(self.4).cast(),
                addr_of_mut!(self.5).cast(),
                addr_of_mut!(self.6).cast(),
                addr_of_mut!(self.7).cast(),
            ]
        }
    }

    fn call_mixed8(c: &mut Criterion) {
        let mut g = c.benchmark_group("call_mixed8");
        g.bench_function("direct", |b| {
            let f: Mixed8 = black_box(mixed8);
            b.iter(|| {
                let (a, b, c, d, e, x, y, z) = black_box(MIXED8_ARGS);
                f(a, b, c, d, e, x, y, z)
            });
        });

        let cif = Cif::new(Abi::DEFAULT, mixed8_types(), Type::F64).unwrap();
        for (name, cif) in variants(cif) {
            g.bench_function(name, |b| {
                let fun = code_ptr::<Mixed8>(black_box(mixed8));
                b.iter(|| {
                    let mut args = Mixed8Args::new();
                    let avalue = args.avalue();
                    let mut ret = 0f64;
                    // SAFETY: `fun` is `mixed8`, whose signature the Cif describes; `avalue`
                    // points at values of the eight argument types and `ret` holds a double.
                    unsafe { cif.call_raw(fun, addr_of_mut!(ret).cast(), avalue.as_ptr()) };
                    ret
                });
            });
        }

        let mut ffi = FfiCif::mixed8();
        g.bench_function("libffi", |b| {
            let fun = libffi_fn::<Mixed8>(black_box(mixed8));
            let cif = ffi.as_ptr();
            b.iter(|| {
                let mut args = Mixed8Args::new();
                let mut avalue = args.avalue();
                let mut ret = 0f64;
                // SAFETY: as for `ours`, with a cif prepared for `mixed8`.
                unsafe { raw::ffi_call(cif, fun, addr_of_mut!(ret).cast(), avalue.as_mut_ptr()) };
                ret
            });
        });
        g.finish();
    }

    // ---- Closures -------------------------------------------------------------------------

    fn closure_call(c: &mut Criterion) {
        fn bench(
            g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
            name: &str,
            f: Add2,
        ) {
            g.bench_function(name, |b| {
                let f = black_box(f);
                let mut x = 0u64;
                b.iter(|| x = f(black_box(x), 3));
                black_box(x);
            });
        }

        let mut g = c.benchmark_group("closure_call");
        bench(&mut g, "direct", add2);

        for (variant, cif) in variants(add2_cif()) {
            let checked = Closure::new(cif.clone(), add2_checked).unwrap();
            let unchecked = Closure::new(cif.clone(), add2_unchecked).unwrap();
            // SAFETY: the callback ignores its user data.
            let raw_closure = unsafe { RawClosure::from_raw(cif, add2_raw, null_mut()) }.unwrap();
            let suffix = variant.strip_prefix("ours").unwrap_or_default();
            // SAFETY: each closure's Cif is `u64 (u64, u64)`, and the closures outlive their
            // benchmarks.
            let fns: [(&str, Add2); 3] = unsafe {
                [
                    ("ours_closure", checked.fn_ptr()),
                    ("ours_closure_unchecked", unchecked.fn_ptr()),
                    ("ours_raw", raw_closure.fn_ptr()),
                ]
            };
            for (name, f) in fns {
                bench(&mut g, &format!("{name}{suffix}"), f);
            }
        }

        let typed = TypedClosure::<Add2, _>::new(|a: u64, b: u64| a.wrapping_add(b)).unwrap();
        // SAFETY: the typed closure outlives every call through this pointer.
        bench(&mut g, "ours_typed", unsafe { typed.fn_ptr() });

        let mut ffi_cif = FfiCif::add2();
        // SAFETY: the cif is `u64 (u64, u64)` and outlives the closure (dropped first below).
        let ffi_closure = unsafe { FfiClosure::new(ffi_cif.as_ptr()) };
        bench(&mut g, "libffi", ffi_closure.fn_ptr());
        g.finish();
        drop(ffi_closure);
    }

    fn closure_create_drop(c: &mut Criterion) {
        let mut g = c.benchmark_group("closure_create_drop");
        for (variant, cif) in variants(add2_cif()) {
            let suffix = variant.strip_prefix("ours").unwrap_or_default();
            // Warm the JIT allocator's caches.
            drop(Closure::new(cif.clone(), add2_unchecked).unwrap());
            g.bench_function(format!("ours_closure{suffix}"), |b| {
                b.iter(|| {
                    let closure = Closure::new(cif.clone(), add2_unchecked).unwrap();
                    black_box(closure.code_ptr());
                });
            });
            g.bench_function(format!("ours_raw{suffix}"), |b| {
                b.iter(|| {
                    // SAFETY: the callback ignores its user data.
                    let closure =
                        unsafe { RawClosure::from_raw(cif.clone(), add2_raw, null_mut()) };
                    black_box(closure.unwrap().code_ptr());
                });
            });
        }

        let mut ffi_cif = FfiCif::add2();
        let ffi = ffi_cif.as_ptr();
        g.bench_function("libffi", |b| {
            b.iter(|| {
                // SAFETY: the cif is `u64 (u64, u64)` and outlives the closure.
                let closure = unsafe { FfiClosure::new(ffi) };
                black_box(closure.code.as_ptr());
            });
        });
        g.finish();
    }

    // ---- Cif preparation ------------------------------------------------------------------

    fn prep_cif(c: &mut Criterion) {
        let mut g = c.benchmark_group("prep_cif3");
        g.bench_function("ours", |b| {
            b.iter(|| {
                Cif::new(Abi::DEFAULT, [Type::I64, Type::I64, Type::I64], Type::I64).unwrap()
            });
        });
        g.bench_function("ours_compile", |b| {
            b.iter(|| {
                let mut cif =
                    Cif::new(Abi::DEFAULT, [Type::I64, Type::I64, Type::I64], Type::I64).unwrap();
                cif.compile().unwrap();
                cif
            });
        });
        let prepared =
            Cif::new(Abi::DEFAULT, [Type::I64, Type::I64, Type::I64], Type::I64).unwrap();
        g.bench_function("ours_cif_clone", |b| b.iter(|| prepared.clone()));
        g.bench_function("libffi", |b| {
            let mut atypes = [addr_of_mut!(types::sint64); 3];
            let mut cif = ffi_cif::default();
            b.iter(|| {
                // SAFETY: `atypes` holds three valid type pointers and outlives `cif`.
                unsafe {
                    low::prep_cif(
                        &mut cif,
                        low::ffi_abi_FFI_DEFAULT_ABI,
                        3,
                        addr_of_mut!(types::sint64),
                        atypes.as_mut_ptr(),
                    )
                }
                .unwrap();
                black_box(&mut cif);
            });
        });
        g.finish();

        let mut g = c.benchmark_group("prep_cif_mixed8");
        g.bench_function("ours", |b| {
            b.iter(|| Cif::new(Abi::DEFAULT, mixed8_types(), Type::F64).unwrap());
        });
        g.bench_function("ours_compile", |b| {
            b.iter(|| {
                let mut cif = Cif::new(Abi::DEFAULT, mixed8_types(), Type::F64).unwrap();
                cif.compile().unwrap();
                cif
            });
        });
        g.bench_function("libffi", |b| {
            let mut atypes = ffi_mixed8_types();
            let mut cif = ffi_cif::default();
            b.iter(|| {
                // SAFETY: `atypes` holds eight valid type pointers and outlives `cif`.
                unsafe {
                    low::prep_cif(
                        &mut cif,
                        low::ffi_abi_FFI_DEFAULT_ABI,
                        8,
                        addr_of_mut!(types::double),
                        atypes.as_mut_ptr(),
                    )
                }
                .unwrap();
                black_box(&mut cif);
            });
        });
        g.finish();
    }

    /// Calls `add2(40, 2)`, `struct24(S24 {1, 2, 3, 4})` and `mixed8(MIXED8_ARGS)` through
    /// `call(fun, rvalue, avalue)`, checking the results against direct calls.
    fn check_calls(
        name: &str,
        call: &mut dyn FnMut(usize, CodePtr, *mut c_void, *mut *mut c_void),
    ) {
        let (mut a, mut b, mut ret) = (40u64, 2u64, 0u64);
        let mut avalue = [addr_of_mut!(a).cast(), addr_of_mut!(b).cast()];
        call(
            0,
            code_ptr::<Add2>(add2),
            addr_of_mut!(ret).cast(),
            avalue.as_mut_ptr(),
        );
        assert_eq!(ret, 42, "{name}: add2");

        let s = S24 {
            d: 1.0,
            i: 2,
            f: 3.0,
            b: 4,
        };
        let mut arg = s;
        let mut out = S24 {
            d: 0.0,
            i: 0,
            f: 0.0,
            b: 0,
        };
        let mut avalue = [addr_of_mut!(arg).cast()];
        let fun = code_ptr::<Struct24Fn>(struct24);
        call(1, fun, addr_of_mut!(out).cast(), avalue.as_mut_ptr());
        assert_eq!(out, struct24(s), "{name}: struct24");

        let (a0, a1, a2, a3, a4, a5, a6, a7) = MIXED8_ARGS;
        let mut args = Mixed8Args::new();
        let mut avalue = args.avalue();
        let mut ret = 0f64;
        let fun = code_ptr::<Mixed8>(mixed8);
        call(2, fun, addr_of_mut!(ret).cast(), avalue.as_mut_ptr());
        assert_eq!(
            ret,
            mixed8(a0, a1, a2, a3, a4, a5, a6, a7),
            "{name}: mixed8"
        );
    }

    /// Checks once, before timing, that every measured path computes what the direct call
    /// does.
    fn self_check(_: &mut Criterion) {
        let cifs = [
            add2_cif(),
            Cif::new(Abi::DEFAULT, [s24_type()], s24_type()).unwrap(),
            Cif::new(Abi::DEFAULT, mixed8_types(), Type::F64).unwrap(),
        ];
        let compiled: Vec<Cif> = cifs
            .iter()
            .map(|c| compiled(c).unwrap_or(c.clone()))
            .collect();
        for (name, cifs) in [("ours", &cifs[..]), ("ours_compiled", &compiled[..])] {
            check_calls(name, &mut |case, fun, rvalue, avalue| {
                // SAFETY: `check_calls` passes the function, arguments and return buffer of
                // the signature `cifs[case]` describes.
                unsafe { cifs[case].call_raw(fun, rvalue, avalue) }
            });
        }
        let mut ffi = [FfiCif::add2(), FfiCif::struct24(), FfiCif::mixed8()];
        check_calls("libffi", &mut |case, fun, rvalue, avalue| {
            let fun = libffi_fn(fun.as_ptr());
            // SAFETY: as above, with libffi's cif of the same signature.
            unsafe { raw::ffi_call(ffi[case].as_ptr(), fun, rvalue, avalue) }
        });

        let mut ffi_cif = FfiCif::add2();
        // SAFETY: the cif is `u64 (u64, u64)` and outlives the closure.
        let ffi_closure = unsafe { FfiClosure::new(ffi_cif.as_ptr()) };
        assert_eq!(ffi_closure.fn_ptr()(40, 2), 42);
        let typed = TypedClosure::<Add2, _>::new(|a: u64, b: u64| a.wrapping_add(b)).unwrap();
        // SAFETY: the typed closure outlives every call through this pointer.
        assert_eq!((unsafe { typed.fn_ptr() })(40, 2), 42);
        for (_, cif) in variants(add2_cif()) {
            let checked = Closure::new(cif.clone(), add2_checked).unwrap();
            let unchecked = Closure::new(cif.clone(), add2_unchecked).unwrap();
            // SAFETY: the callback ignores its user data.
            let raw_closure = unsafe { RawClosure::from_raw(cif, add2_raw, null_mut()) }.unwrap();
            // SAFETY: each closure's Cif is `u64 (u64, u64)` and the closures are alive.
            let fns: [Add2; 3] =
                unsafe { [checked.fn_ptr(), unchecked.fn_ptr(), raw_closure.fn_ptr()] };
            for f in fns {
                assert_eq!(f(40, 2), 42);
            }
        }
    }

    criterion_group!(
        benches,
        self_check,
        call_add2,
        call_struct24,
        call_mixed8,
        closure_call,
        closure_create_drop,
        prep_cif
    );
}
