//! The C peer of the dynamic layer's tests (`c/dynamic.c`): reference functions, checkers
//! that call a callback and compare its results with the reference, `#[repr(C)]` mirrors of
//! the C structs, and Rust mirrors of the reference formulas.
//!
//! Every C function exists once per x86_64 calling convention; a [`Suite`] collects one
//! convention's functions ([`sysv`], [`win64`]). Reference functions are declared without
//! their signatures: tests only ever call them through a Cif, which supplies the signature
//! (c/dynamic.c documents each one). Checkers are declared exactly: they take the callback
//! as a code pointer and return 0, or the 1-based number of the first mismatching input.

#![cfg(target_arch = "x86_64")]
#![allow(clippy::too_many_arguments)]

use core::ffi::{c_char, c_void};

/// A checker: `int dyn_check_<op>_<abi>(cb)`, where `cb` has the signature of `dyn_<op>_<abi>`.
///
/// Checkers use their suite's convention (see `c/dynamic.c`); this is a Rust wrapper that
/// calls the C checker in it, so that both suites share one type.
///
/// # Safety
/// `cb` must be code with the signature and convention of `dyn_<op>_<abi>`.
pub type Check = unsafe fn(cb: *const c_void) -> i32;

/// `uint64_t dyn_call_raw_<abi>(uint64_t (*cb)(uint64_t), uint64_t raw)`: returns `cb(raw)`.
/// A Rust wrapper, like [`Check`].
///
/// # Safety
/// `cb` must be code with the signature `uint64_t (uint64_t)` in the suite's convention.
pub type CallRaw = unsafe fn(cb: *const c_void, raw: u64) -> u64;

/// A reference function and its checker.
#[derive(Clone, Copy, Debug)]
pub struct Pair {
    /// `dyn_<op>_<abi>`.
    pub code: *const c_void,
    /// `dyn_check_<op>_<abi>`.
    pub check: Check,
}

macro_rules! suites {
    (pairs: [$($p:ident),* $(,)?], codes: [$($c:ident),* $(,)?] $(,)?) => {
        /// The functions of `c/dynamic.c` for one calling convention.
        #[derive(Clone, Copy, Debug)]
        pub struct Suite {
            /// `"sysv"` or `"win64"`.
            pub name: &'static str,
            $(
                #[doc = concat!("`dyn_", stringify!($p), "` and its checker.")]
                pub $p: Pair,
            )*
            $(
                #[doc = concat!("`dyn_", stringify!($c), "`.")]
                pub $c: *const c_void,
            )*
            /// `dyn_call_raw`.
            pub call_raw: CallRaw,
        }

        suites!(@abi sysv, "sysv64", "_sysv", [$($p)*], [$($c)*]);
        suites!(@abi win64, "win64", "_win64", [$($p)*], [$($c)*]);
    };
    (@abi $abi:ident, $rust_abi:literal, $suffix:literal, [$($p:ident)*], [$($c:ident)*]) => {
        #[doc = concat!("The functions with the suffix `", $suffix, "`.")]
        pub fn $abi() -> Suite {
            mod code {
                extern $rust_abi {
                    $(
                        #[link_name = concat!("dyn_", stringify!($p), $suffix)]
                        pub fn $p();
                    )*
                    $(
                        #[link_name = concat!("dyn_", stringify!($c), $suffix)]
                        pub fn $c();
                    )*
                }
            }
            mod check {
                // Checkers are in the suite's convention, like the reference functions.
                mod c {
                    extern $rust_abi {
                        $(
                            #[link_name = concat!("dyn_check_", stringify!($p), $suffix)]
                            pub fn $p(cb: *const core::ffi::c_void) -> i32;
                        )*
                        #[link_name = concat!("dyn_call_raw", $suffix)]
                        pub fn call_raw(cb: *const core::ffi::c_void, raw: u64) -> u64;
                    }
                }
                $(
                    /// Calls the C checker (see [`Check`](crate::dynamic::Check)).
                    ///
                    /// # Safety
                    /// As for [`Check`](crate::dynamic::Check).
                    pub unsafe fn $p(cb: *const core::ffi::c_void) -> i32 {
                        // SAFETY: forwarded from the caller: `cb` has the checker's callback
                        // signature and convention.
                        unsafe { c::$p(cb) }
                    }
                )*
                /// Calls `dyn_call_raw` (see [`CallRaw`](crate::dynamic::CallRaw)).
                ///
                /// # Safety
                /// As for [`CallRaw`](crate::dynamic::CallRaw).
                pub unsafe fn call_raw(cb: *const core::ffi::c_void, raw: u64) -> u64 {
                    // SAFETY: forwarded from the caller: `cb` is `uint64_t (uint64_t)` code in
                    // the suite's convention.
                    unsafe { c::call_raw(cb, raw) }
                }
            }
            Suite {
                name: stringify!($abi),
                $($p: Pair { code: code::$p as *const c_void, check: check::$p },)*
                $($c: code::$c as *const c_void,)*
                call_raw: check::call_raw,
            }
        }
    };
}

suites! {
    pairs: [
        sub_u8, sub_i8, sub_u16, sub_i16, sub_u32, sub_i32, sub_u64, sub_i64, sub_u128,
        sub_i128, sub_f32, sub_f64, sub_ld, ptr_add, ints, ld_bump, ld_count, cmul_f, cmul_d,
        cmul_ld, ff_op, di_op, id_op, ccc_op, fff_op, dd_op, difb_op, big_op, nest_op, farr_op,
        uni_op, deep_op, ll_op, structs, many, mixed, spill_int, spill_sse, stack_align, store,
        big_make,
    ],
    codes: [va, raw],
}

extern "C" {
    /// Entry `index` of the C layout table (name, `sizeof`, `_Alignof`); 0 past its end.
    pub fn dyn_layout(
        index: usize,
        name: *mut *const c_char,
        size: *mut usize,
        align: *mut usize,
    ) -> i32;
    /// Counts its calls; returns `x + 1`.
    pub fn dyn_counted(x: i64) -> i64;
    /// How often [`dyn_counted`] ran.
    pub fn dyn_counter() -> i64;
}

/// `dyn_ff`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynFf {
    pub a: f32,
    pub b: f32,
}

/// `dyn_di`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynDi {
    pub d: f64,
    pub i: i32,
}

/// `dyn_id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynId {
    pub i: i32,
    pub d: f64,
}

/// `dyn_ccc`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynCcc {
    pub a: i8,
    pub b: i8,
    pub c: i8,
}

/// `dyn_fff`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynFff {
    pub a: f32,
    pub b: f32,
    pub c: f32,
}

/// `dyn_dd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynDd {
    pub a: f64,
    pub b: f64,
}

/// `dyn_difb`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynDifb {
    pub d: f64,
    pub i: i32,
    pub f: f32,
    pub b: u8,
}

/// `dyn_big`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynBig {
    pub v: [i64; 5],
}

/// `dyn_nest`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynNest {
    pub inner: DynFf,
    pub n: i32,
}

/// `dyn_farr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynFarr {
    pub f: [f32; 3],
    pub n: i32,
}

/// `dyn_uni`. The C union `{ float f; uint32_t u; }` is mirrored by its `u` member (the
/// same size and offset); `v` holds its bits.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynUni {
    pub tag: u8,
    pub v: u32,
    pub d: f64,
}

/// The innermost struct of `dyn_deep`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynDeepIn {
    pub s: i16,
}

/// The middle struct of `dyn_deep`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynDeepMid {
    pub inner: DynDeepIn,
    pub f: f32,
}

/// `dyn_deep`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DynDeep {
    pub mid: DynDeepMid,
    pub d: f64,
}

/// `dyn_ll`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DynLl {
    pub a: i64,
    pub b: i64,
}

// ---- Rust mirrors of the reference formulas (see c/dynamic.c) ------------------------------

/// `dyn_ints` with `p` standing for `*p`.
pub fn ints(a: u8, b: i8, c: u16, d: i16, e: u32, f: i32, g: u64, h: i64, p: i64) -> i64 {
    let terms = [
        u64::from(a),
        b as u64,
        u64::from(c),
        d as u64,
        u64::from(e),
        f as u64,
        g,
        h as u64,
        p as u64,
    ];
    let sum = terms
        .iter()
        .zip(1u64..)
        .fold(0u64, |s, (&t, w)| s.wrapping_add(w.wrapping_mul(t)));
    sum as i64
}

/// `dyn_ff_op`.
pub fn ff_op(x: DynFf, k: i32) -> DynFf {
    DynFf {
        a: x.b + k as f32,
        b: x.a - k as f32,
    }
}

/// `dyn_di_op`.
pub fn di_op(x: DynDi, k: i32) -> DynDi {
    DynDi {
        d: x.d + f64::from(x.i),
        i: x.i.wrapping_sub(k),
    }
}

/// `dyn_id_op`.
pub fn id_op(x: DynId, k: i32) -> DynId {
    DynId {
        i: x.i.wrapping_add(k),
        d: x.d * f64::from(k),
    }
}

/// `dyn_ccc_op`.
pub fn ccc_op(x: DynCcc, k: i32) -> DynCcc {
    DynCcc {
        a: (i32::from(x.b) + k) as i8,
        b: (i32::from(x.c) - k) as i8,
        c: (i32::from(x.a) ^ k) as i8,
    }
}

/// `dyn_fff_op`.
pub fn fff_op(x: DynFff, k: i32) -> DynFff {
    DynFff {
        a: x.c + k as f32,
        b: x.a + k as f32,
        c: x.b - k as f32,
    }
}

/// `dyn_dd_op`.
pub fn dd_op(x: DynDd, k: i32) -> DynDd {
    DynDd {
        a: x.b * f64::from(k),
        b: x.a + f64::from(k),
    }
}

/// `dyn_difb_op`.
pub fn difb_op(x: DynDifb, k: i32) -> DynDifb {
    DynDifb {
        d: x.d + f64::from(x.f),
        i: x.i.wrapping_add(k),
        f: x.f * 2.0,
        b: (i32::from(x.b) + k) as u8,
    }
}

/// `dyn_big_op`.
pub fn big_op(x: DynBig, k: i32) -> DynBig {
    let mut v = [0; 5];
    for (j, out) in v.iter_mut().enumerate() {
        *out = x.v[4 - j].wrapping_add(i64::from(k * j as i32));
    }
    DynBig { v }
}

/// `dyn_nest_op`.
pub fn nest_op(x: DynNest, k: i32) -> DynNest {
    DynNest {
        inner: DynFf {
            a: x.inner.b,
            b: x.inner.a + k as f32,
        },
        n: x.n.wrapping_sub(k),
    }
}

/// `dyn_farr_op`.
pub fn farr_op(x: DynFarr, k: i32) -> DynFarr {
    let k32 = k as f32;
    DynFarr {
        f: [x.f[2] + k32, x.f[1] + k32, x.f[0] + k32],
        n: x.n.wrapping_add(k),
    }
}

/// `dyn_uni_op`.
pub fn uni_op(x: DynUni, k: i32) -> DynUni {
    DynUni {
        tag: x.tag.wrapping_add(1),
        v: x.v ^ k as u32,
        d: x.d - f64::from(k),
    }
}

/// `dyn_deep_op`.
pub fn deep_op(x: DynDeep, k: i32) -> DynDeep {
    DynDeep {
        mid: DynDeepMid {
            inner: DynDeepIn {
                s: (i32::from(x.mid.inner.s) + k) as i16,
            },
            f: x.mid.f * k as f32,
        },
        d: x.d + f64::from(x.mid.inner.s),
    }
}

/// `dyn_ll_op`.
pub fn ll_op(x: DynLl, k: i32) -> DynLl {
    DynLl {
        a: x.b.wrapping_sub(i64::from(k)),
        b: x.a.wrapping_add(i64::from(k)),
    }
}

/// The arguments of `dyn_structs`.
#[derive(Clone, Copy, Debug)]
pub struct Structs {
    pub a: DynFf,
    pub b: DynDi,
    pub c: DynId,
    pub d: DynCcc,
    pub e: DynFff,
    pub f: DynDd,
    pub g: DynDifb,
    pub h: DynBig,
    pub i: DynNest,
    pub j: DynFarr,
    pub k: DynUni,
    pub l: DynDeep,
    pub m: DynLl,
}

/// `dyn_structs`: the digests of the arguments weighted by position.
pub fn structs(s: &Structs) -> f64 {
    let f = f64::from;
    let big =
        s.h.v
            .iter()
            .zip(1..)
            .fold(0.0, |acc, (&v, w)| acc + f64::from(w) * v as f64);
    let digests = [
        f(s.a.a) + 2.0 * f(s.a.b),
        s.b.d + 2.0 * f64::from(s.b.i),
        f64::from(s.c.i) + 2.0 * s.c.d,
        f64::from(s.d.a) + 2.0 * f64::from(s.d.b) + 3.0 * f64::from(s.d.c),
        f(s.e.a) + 2.0 * f(s.e.b) + 3.0 * f(s.e.c),
        s.f.a + 2.0 * s.f.b,
        s.g.d + 2.0 * f64::from(s.g.i) + 3.0 * f(s.g.f) + 4.0 * f64::from(s.g.b),
        big,
        f(s.i.inner.a) + 2.0 * f(s.i.inner.b) + 3.0 * f64::from(s.i.n),
        f(s.j.f[0]) + 2.0 * f(s.j.f[1]) + 3.0 * f(s.j.f[2]) + 4.0 * f64::from(s.j.n),
        f64::from(s.k.tag) + 2.0 * f64::from(s.k.v) + 3.0 * s.k.d,
        f64::from(s.l.mid.inner.s) + 2.0 * f(s.l.mid.f) + 3.0 * s.l.d,
        s.m.a as f64 + 2.0 * s.m.b as f64,
    ];
    digests
        .iter()
        .zip(1..)
        .fold(0.0, |acc, (&d, w)| acc + f64::from(w) * d)
}

/// `dyn_many`, with `p8` standing for `*p8`.
pub fn many(
    a0: i8,
    d0: f64,
    a1: u16,
    f1: f32,
    a2: i32,
    d2: f64,
    a3: i64,
    d3: f64,
    a4: u8,
    d4: f64,
    a5: i16,
    f5: f32,
    a6: u32,
    d6: f64,
    a7: i64,
    d7: f64,
    p8: i64,
    d8: f64,
    a9: i32,
    d9: f64,
    f10: f32,
    a10: i64,
) -> f64 {
    let terms = [
        f64::from(a0),
        d0,
        f64::from(a1),
        f64::from(f1),
        f64::from(a2),
        d2,
        a3 as f64,
        d3,
        f64::from(a4),
        d4,
        f64::from(a5),
        f64::from(f5),
        f64::from(a6),
        d6,
        a7 as f64,
        d7,
        p8 as f64,
        d8,
        f64::from(a9),
        d9,
        f64::from(f10),
        a10 as f64,
    ];
    terms
        .iter()
        .zip(1..)
        .fold(0.0, |acc, (&t, w)| acc + f64::from(w) * t)
}

/// `dyn_mixed`.
pub fn mixed(a: i32, b: f64, c: i32, d: f32, e: f64, f: f32, g: i8, h: f64) -> f64 {
    f64::from(a)
        + 2.0 * b
        + 3.0 * f64::from(c)
        + 4.0 * f64::from(d)
        + 5.0 * e
        + 6.0 * f64::from(f)
        + 7.0 * f64::from(g)
        + 8.0 * h
}

/// `dyn_spill_int`.
pub fn spill_int(a: i64, b: i64, c: i64, d: i64, e: i64, s: DynLl, f: i64) -> i64 {
    [a, b, c, d, e, s.a, s.b, f]
        .iter()
        .zip(1i64..)
        .fold(0i64, |acc, (&t, w)| acc.wrapping_add(w.wrapping_mul(t)))
}

/// `dyn_spill_sse`.
pub fn spill_sse(a: f64, b: f64, c: f64, d: f64, e: f64, f: f64, g: f64, s: DynDd, h: f64) -> f64 {
    a + 2.0 * b + 3.0 * c + 4.0 * d + 5.0 * e + 6.0 * f + 7.0 * g + 8.0 * s.a + 9.0 * s.b + 10.0 * h
}

/// `dyn_stack_align`, with `y` standing for the (integral) `long double` argument.
pub fn stack_align(
    a: i64,
    b: i64,
    c: i64,
    d: i64,
    e: i64,
    x: i128,
    f: i64,
    g: i64,
    y: i64,
    z: i128,
    h: i32,
) -> u128 {
    let terms = [
        a as u128, b as u128, c as u128, d as u128, e as u128, x as u128, f as u128, g as u128,
        y as u128, z as u128, h as u128,
    ];
    terms
        .iter()
        .zip(1u128..)
        .fold(0u128, |acc, (&t, w)| acc.wrapping_add(w.wrapping_mul(t)))
}

/// `dyn_big_make`'s result (without the call count).
pub fn big_make(seed: i64) -> DynBig {
    let mut v = [0; 5];
    for (out, w) in v.iter_mut().zip(1i64..) {
        *out = seed.wrapping_mul(w);
    }
    DynBig { v }
}
