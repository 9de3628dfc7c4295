//! Instruction counts of the dynamic layer, for `valgrind --tool=callgrind` (wall-clock time
//! is noisy on a shared 2-core machine; instruction counts are not).
//!
//! `scripts/callgrind-dynamic CASE...` builds this and prints instructions per iteration:
//! the difference between a run of 2N and a run of N iterations, divided by N, so start-up
//! cancels out. By hand: `target/release/deps/dynamic_callgrind-* CASE N`.
//!
//! Cases (a `_c` suffix compiles the Cif first with `Cif::compile`):
//! `add2_direct`, `add2_ours`, `add2_libffi` (`u64 (u64, u64)`); `s24_direct`, `s24_ours`,
//! `s24_libffi` (a 24-byte struct by value and returned); `m8_direct`, `m8_ours`,
//! `m8_libffi` (8 mixed arguments); `clo_direct`, `clo_checked`, `clo_unchecked`, `clo_raw`,
//! `clo_libffi` (a closure `u64 (u64, u64)` called through its pointer); `create_ours`,
//! `create_libffi` (closure create + drop); `prep3_ours`, `prep3_reset`, `prep3_libffi`
//! (preparing a Cif of 3 scalars).

#![allow(missing_docs)]

#[cfg(target_arch = "x86_64")]
fn main() {
    driver::main();
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {}

#[cfg(target_arch = "x86_64")]
mod common;

#[cfg(target_arch = "x86_64")]
mod driver {
    use crate::common::*;
    use core::ffi::c_void;
    use core::ptr::{addr_of_mut, null_mut};
    use std::hint::black_box;

    use closure_ffi::dynamic::{Abi, Cif, Closure, RawClosure, Type};
    use libffi::low::{self, ffi_cif, types};
    use libffi::raw;

    fn loop_fn(f: Add2, n: u64) -> u64 {
        let f = black_box(f);
        let mut x = 0;
        for _ in 0..n {
            x = f(black_box(x), 3);
        }
        x
    }

    pub fn main() {
        let argv: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| a != "--bench")
            .collect();
        let (Some(case), Some(n)) = (
            argv.first(),
            argv.get(1).and_then(|n| n.parse::<u64>().ok()),
        ) else {
            println!("usage: dynamic_callgrind CASE N (see scripts/callgrind-dynamic)");
            return;
        };
        let compile = case.ends_with("_c");
        let case = case.trim_end_matches("_c");
        let prepare = |mut cif: Cif| {
            if compile {
                assert!(
                    cif.compile().expect("JIT memory"),
                    "the compiler covers this plan"
                );
            }
            cif
        };
        let out: u64 = match case {
            "add2_direct" | "clo_direct" => loop_fn(add2, n),
            "add2_ours" => {
                let cif = prepare(add2_cif());
                let fun = code_ptr::<Add2>(black_box(add2));
                let mut x = 0u64;
                for _ in 0..n {
                    let (mut p, mut q, mut r) = (black_box(x), 3u64, 0u64);
                    let avalue = [addr_of_mut!(p).cast(), addr_of_mut!(q).cast()];
                    // SAFETY: `add2` has the Cif's signature; the arguments are u64s.
                    unsafe { cif.call_raw(fun, addr_of_mut!(r).cast(), avalue.as_ptr()) };
                    x = r;
                }
                x
            }
            "add2_libffi" => {
                let mut ffi = FfiCif::add2();
                let fun = libffi_fn::<Add2>(black_box(add2));
                let mut x = 0u64;
                for _ in 0..n {
                    let (mut p, mut q, mut r) = (black_box(x), 3u64, 0u64);
                    let mut avalue = [addr_of_mut!(p).cast(), addr_of_mut!(q).cast()];
                    // SAFETY: as above, through libffi.
                    unsafe {
                        raw::ffi_call(
                            ffi.as_ptr(),
                            fun,
                            addr_of_mut!(r).cast(),
                            avalue.as_mut_ptr(),
                        )
                    };
                    x = r;
                }
                x
            }
            "s24_direct" | "s24_ours" | "s24_libffi" => {
                let mut s = S24 {
                    d: 0.0,
                    i: 1,
                    f: 2.0,
                    b: 3,
                };
                if case == "s24_direct" {
                    let f: Struct24Fn = black_box(struct24);
                    for _ in 0..n {
                        s = f(black_box(s));
                    }
                } else if case == "s24_ours" {
                    let cif = prepare(
                        Cif::new(Abi::DEFAULT, [s24_type()], s24_type()).expect("a valid Cif"),
                    );
                    let fun = code_ptr::<Struct24Fn>(black_box(struct24));
                    for _ in 0..n {
                        let mut arg = black_box(s);
                        let avalue = [addr_of_mut!(arg).cast()];
                        // SAFETY: `struct24` has the Cif's signature; `s` holds the result.
                        unsafe { cif.call_raw(fun, addr_of_mut!(s).cast(), avalue.as_ptr()) };
                    }
                } else {
                    let mut ffi = FfiCif::struct24();
                    let fun = libffi_fn::<Struct24Fn>(black_box(struct24));
                    for _ in 0..n {
                        let mut arg = black_box(s);
                        let mut avalue = [addr_of_mut!(arg).cast()];
                        // SAFETY: as above, through libffi.
                        unsafe {
                            raw::ffi_call(
                                ffi.as_ptr(),
                                fun,
                                addr_of_mut!(s).cast(),
                                avalue.as_mut_ptr(),
                            )
                        };
                    }
                }
                s.i as u64
            }
            "m8_direct" => {
                let f: Mixed8 = black_box(mixed8);
                let mut acc = 0f64;
                for _ in 0..n {
                    let (a, b, c, d, e, x, y, z) = black_box(MIXED8_ARGS);
                    acc += f(a, b, c, d, e, x, y, z);
                }
                acc as u64
            }
            "m8_ours" | "m8_libffi" => {
                let cif = prepare(
                    Cif::new(Abi::DEFAULT, mixed8_types(), Type::F64).expect("a valid Cif"),
                );
                let mut ffi = FfiCif::mixed8();
                let (fun, ffi_fun) = (
                    code_ptr::<Mixed8>(black_box(mixed8)),
                    libffi_fn::<Mixed8>(black_box(mixed8)),
                );
                let mut acc = 0f64;
                for _ in 0..n {
                    let (mut a, mut b, mut c, mut d, mut e, mut x, mut y, mut z) =
                        black_box(MIXED8_ARGS);
                    let mut avalue: [*mut c_void; 8] = [
                        addr_of_mut!(a).cast(),
                        addr_of_mut!(b).cast(),
                        addr_of_mut!(c).cast(),
                        addr_of_mut!(d).cast(),
                        addr_of_mut!(e).cast(),
                        addr_of_mut!(x).cast(),
                        addr_of_mut!(y).cast(),
                        addr_of_mut!(z).cast(),
                    ];
                    let mut r = 0f64;
                    // SAFETY: `mixed8` has the signature of both cifs; the values match it.
                    unsafe {
                        if case == "m8_ours" {
                            cif.call_raw(fun, addr_of_mut!(r).cast(), avalue.as_ptr());
                        } else {
                            raw::ffi_call(
                                ffi.as_ptr(),
                                ffi_fun,
                                addr_of_mut!(r).cast(),
                                avalue.as_mut_ptr(),
                            );
                        }
                    }
                    acc += r;
                }
                acc as u64
            }
            "clo_checked" | "clo_unchecked" => {
                let callback = if case == "clo_checked" {
                    add2_checked
                } else {
                    add2_unchecked
                };
                let closure = Closure::new(prepare(add2_cif()), callback).expect("a closure");
                // SAFETY: the closure's Cif is `u64 (u64, u64)`; it outlives the loop.
                loop_fn(unsafe { closure.fn_ptr() }, n)
            }
            "clo_raw" => {
                // SAFETY: `add2_raw` ignores its user data.
                let closure =
                    unsafe { RawClosure::from_raw(prepare(add2_cif()), add2_raw, null_mut()) }
                        .expect("a closure");
                // SAFETY: as above.
                loop_fn(unsafe { closure.fn_ptr() }, n)
            }
            "clo_libffi" => {
                let mut ffi = FfiCif::add2();
                // SAFETY: the cif is `u64 (u64, u64)` and outlives the closure.
                let closure = unsafe { FfiClosure::new(ffi.as_ptr()) };
                loop_fn(closure.fn_ptr(), n)
            }
            "create_ours" => {
                let cif = prepare(add2_cif());
                for _ in 0..n {
                    let closure = Closure::new(cif.clone(), add2_unchecked).expect("a closure");
                    black_box(closure.code_ptr());
                }
                0
            }
            "create_libffi" => {
                let mut ffi = FfiCif::add2();
                for _ in 0..n {
                    // SAFETY: as in `clo_libffi`; the closure is freed when dropped, uncalled.
                    let closure = unsafe { FfiClosure::new(ffi.as_ptr()) };
                    black_box(closure.code.as_ptr());
                }
                0
            }
            "prep3_ours" => {
                for _ in 0..n {
                    black_box(
                        Cif::new(Abi::DEFAULT, [Type::I64, Type::I64, Type::I64], Type::I64)
                            .expect("a valid Cif"),
                    );
                }
                0
            }
            "prep3_reset" => {
                let mut cif = add2_cif();
                for _ in 0..n {
                    cif.reset(Abi::DEFAULT, [Type::I64, Type::I64, Type::I64], Type::I64)
                        .expect("a valid Cif");
                    black_box(&cif);
                }
                0
            }
            "prep3_libffi" => {
                let mut cif = ffi_cif::default();
                let mut atypes = [addr_of_mut!(types::sint64); 3];
                for _ in 0..n {
                    // SAFETY: `cif` is writable; the types are libffi's statics.
                    unsafe {
                        low::prep_cif(
                            &mut cif,
                            low::ffi_abi_FFI_DEFAULT_ABI,
                            3,
                            addr_of_mut!(types::sint64),
                            atypes.as_mut_ptr(),
                        )
                    }
                    .expect("libffi prepares the cif");
                    black_box(&mut cif);
                }
                0
            }
            other => {
                eprintln!("unknown case {other} (see the file's docs)");
                std::process::exit(2);
            }
        };
        println!("{case} {n} {out}");
    }
}
