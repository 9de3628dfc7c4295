//! The shapes of closures, one macro each, and [`suite!`], which runs all of them for one
//! calling-convention marker.
//!
//! Every shape is a closure type of its own, so each one is a thunk template of its own,
//! monomorphized in this crate with this crate's compiler flags. Where a shape makes two
//! thunks, both come from one closure type (one template, two closure pointers): the second
//! one reuses the cached relocation.

/// Calls `$m!($($pre)* [args])` with the first `n` mixed arguments, each as
/// `name index type` (the index into [`crate::values::mixed`]).
macro_rules! with_mixed_args {
    (0, $m:ident!($($pre:tt)*)) => { $m!($($pre)* []) };
    (1, $m:ident!($($pre:tt)*)) => { $m!($($pre)* [a0 0 i8]) };
    (2, $m:ident!($($pre:tt)*)) => { $m!($($pre)* [a0 0 i8, a1 1 u16]) };
    (3, $m:ident!($($pre:tt)*)) => { $m!($($pre)* [a0 0 i8, a1 1 u16, a2 2 i32]) };
    (4, $m:ident!($($pre:tt)*)) => { $m!($($pre)* [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64]) };
    (5, $m:ident!($($pre:tt)*)) => {
        $m!($($pre)* [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32])
    };
    (6, $m:ident!($($pre:tt)*)) => {
        $m!($($pre)* [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64])
    };
    (7, $m:ident!($($pre:tt)*)) => {
        $m!($($pre)* [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
            a6 6 *const u8])
    };
    (8, $m:ident!($($pre:tt)*)) => {
        $m!($($pre)* [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
            a6 6 *const u8, a7 7 i16])
    };
    (9, $m:ident!($($pre:tt)*)) => {
        $m!($($pre)* [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
            a6 6 *const u8, a7 7 i16, a8 8 u8])
    };
    (10, $m:ident!($($pre:tt)*)) => {
        $m!($($pre)* [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
            a6 6 *const u8, a7 7 i16, a8 8 u8, a9 9 i64])
    };
    (11, $m:ident!($($pre:tt)*)) => {
        $m!($($pre)* [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
            a6 6 *const u8, a7 7 i16, a8 8 u8, a9 9 i64, a10 10 u32])
    };
    (12, $m:ident!($($pre:tt)*)) => {
        $m!($($pre)* [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
            a6 6 *const u8, a7 7 i16, a8 8 u8, a9 9 i64, a10 10 u32, a11 11 f64])
    };
}

/// `BareFn`, a closure capturing a salt: two thunks of one template, each called once.
macro_rules! fn_arity {
    ($r:ident, $marker:ident, $abi:literal, $n:literal, [$($a:ident $i:tt $t:ty),*]) => {
        $r.case(concat!(stringify!($marker), " BareFn arity ", $n), || {
            type Bare = unsafe extern $abi fn($($t),*) -> u64;
            let v = mixed();
            let _ = &v; // unused at arity 0
            let bits: &[u64] = &[$(v.$i.bits()),*];
            let make = |salt: u64| move |$($a: $t),*| -> u64 { checksum(salt, &[$($a.bits()),*]) };
            let one = BareFn::<Bare>::try_with_cc(cc::$marker, make(SALT_ONE))?;
            let two = BareFn::<Bare>::try_with_cc(cc::$marker, make(SALT_TWO))?;
            let (one_bare, two_bare) = (one.bare(), two.bare());
            // SAFETY: both owners are alive; the arguments match the signature.
            let got = unsafe { (one_bare($(v.$i),*), two_bare($(v.$i),*)) };
            Ok((got, (checksum(SALT_ONE, bits), checksum(SALT_TWO, bits))))
        });
    };
}

/// A closure without captures: the template itself is the pointer (no relocation).
macro_rules! zero_sized {
    ($r:ident, $marker:ident, $abi:literal, $n:literal, [$($a:ident $i:tt $t:ty),*]) => {
        $r.case(concat!(stringify!($marker), " zero-sized arity ", $n), || {
            type Bare = unsafe extern $abi fn($($t),*) -> u64;
            let v = mixed();
            let bits: &[u64] = &[$(v.$i.bits()),*];
            let f = BareFn::<Bare>::try_with_cc(cc::$marker, |$($a: $t),*| -> u64 {
                checksum(7, &[$($a.bits()),*])
            })?;
            let bare = f.bare();
            // SAFETY: `f` is alive; the arguments match the signature.
            let got = unsafe { bare($(v.$i),*) };
            Ok((got, checksum(7, bits)))
        });
    };
}

/// `BareFnMut` whose state (a call counter and a log) changes with every call.
macro_rules! fn_mut_state {
    ($r:ident, $marker:ident, $abi:literal, $n:literal, [$($a:ident $i:tt $t:ty),*]) => {
        $r.case(concat!(stringify!($marker), " BareFnMut state arity ", $n), || {
            type Bare = unsafe extern $abi fn($($t),*) -> u64;
            let v = mixed();
            let bits: &[u64] = &[$(v.$i.bits()),*];
            let mut calls = 0u64;
            let mut log = Vec::new();
            let f = BareFnMut::<Bare>::try_with_cc(cc::$marker, |$($a: $t),*| -> u64 {
                calls += 1;
                let call_bits: &[u64] = &[$($a.bits()),*];
                log.push(checksum(0, call_bits));
                checksum(SALT_ONE ^ calls, call_bits)
            })?;
            let bare = f.bare();
            // SAFETY: `f` is alive; calls are sequential; the arguments match the signature.
            let got = unsafe { [bare($(v.$i),*), bare($(v.$i),*), bare($(v.$i),*)] };
            drop(f);
            let want = [1, 2, 3].map(|n| checksum(SALT_ONE ^ n, bits));
            Ok(((got, calls, log), (want, 3, vec![checksum(0, bits); 3])))
        });
    };
}

/// `BareFnOnce` moving a captured `String` out and dropping a tracked capture: once with
/// `bare()` and the owner dropped after the call, once with `into_bare()`.
macro_rules! fn_once {
    ($r:ident, $marker:ident, $abi:literal, $n:literal, [$($a:ident $i:tt $t:ty),*]) => {
        $r.case(concat!(stringify!($marker), " BareFnOnce arity ", $n), || {
            type Bare = unsafe extern $abi fn($($t),*) -> u64;
            let v = mixed();
            let bits: &[u64] = &[$(v.$i.bits()),*];
            let drops = DropCount::default();
            let make = |label: String, token: DropToken| move |$($a: $t),*| -> u64 {
                let _token = token;
                let label: String = label;
                checksum(label.len() as u64, &[$($a.bits()),*])
            };
            let f = BareFnOnce::<Bare>::try_with_cc(
                cc::$marker,
                make(String::from("moved out"), drops.token()),
            )?;
            let bare = f.bare();
            // SAFETY: `f` is alive; its only call; the arguments match the signature.
            let first = unsafe { bare($(v.$i),*) };
            let drops_after_call = drops.get();
            drop(f);
            let g = BareFnOnce::<Bare>::try_with_cc(
                cc::$marker,
                make(String::from("handed over"), drops.token()),
            )?;
            let bare = g.into_bare();
            // SAFETY: `into_bare` keeps the closure until its single call, which this is.
            let second = unsafe { bare($(v.$i),*) };
            let got = (first, drops_after_call, second, drops.get());
            Ok((got, (checksum(9, bits), 1, checksum(11, bits), 2)))
        });
    };
}

/// Closures with big captures: a `[u64; 64]` by value, a `String` and a `Vec`, a borrowed
/// 4 KiB local, and a `BareFnOnce` moving 72 KiB out of its storage onto the stack.
macro_rules! big_captures {
    ($r:ident, $marker:ident, $abi:literal) => {
        $r.case(concat!(stringify!($marker), " capture [u64; 64]"), || {
            type Bare = unsafe extern $abi fn(i8, u16, i32) -> u64;
            let table: [u64; 64] =
                core::array::from_fn(|i| (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let make = move |salt: u64| move |a: i8, b: u16, c: i32| -> u64 {
                table[usize::from(b) % 64]
                    ^ table[(salt % 64) as usize]
                    ^ checksum(salt, &[a.bits(), b.bits(), c.bits()])
            };
            let one = BareFn::<Bare>::try_with_cc(cc::$marker, make(SALT_ONE))?;
            let two = BareFn::<Bare>::try_with_cc(cc::$marker, make(SALT_TWO))?;
            let (x, y, z) = (-5i8, 1000u16, -7i32);
            // SAFETY: both owners are alive; the arguments match the signature.
            let got = unsafe { (one.bare()(x, y, z), two.bare()(x, y, z)) };
            let want = |salt: u64| make(salt)(x, y, z);
            Ok((got, (want(SALT_ONE), want(SALT_TWO))))
        });
        $r.case(concat!(stringify!($marker), " capture String + Vec"), || {
            type Bare = unsafe extern $abi fn(i8, u16, i32, u64, f32, f64, *const u8) -> u64;
            let v = mixed();
            let name = String::from("a captured name");
            let list: Vec<u64> = (1..=100).map(|i| i * i).collect();
            let make = |name: String, list: Vec<u64>| {
                move |a: i8, b: u16, c: i32, d: u64, e: f32, f: f64, g: *const u8| -> u64 {
                    let salt = name.len() as u64 ^ list.iter().sum::<u64>();
                    let bits = [a.bits(), b.bits(), c.bits(), d.bits()];
                    checksum(salt, &[&bits[..], &[e.bits(), f.bits(), g.bits()]].concat())
                }
            };
            let want = make(name.clone(), list.clone())(v.0, v.1, v.2, v.3, v.4, v.5, v.6);
            let f = BareFn::<Bare>::try_with_cc(cc::$marker, make(name, list))?;
            // SAFETY: `f` is alive; the arguments match the signature.
            let got = unsafe { f.bare()(v.0, v.1, v.2, v.3, v.4, v.5, v.6) };
            Ok((got, want))
        });
        $r.case(concat!(stringify!($marker), " borrow [u64; 512]"), || {
            type Bare = unsafe extern $abi fn(i8) -> u64;
            let local: [u64; 512] = core::array::from_fn(|i| i as u64 * 3);
            let f = BareFn::<Bare>::try_with_cc(cc::$marker, |a: i8| -> u64 {
                local.iter().sum::<u64>() ^ a.bits()
            })?;
            // SAFETY: `f` is alive (and `local` outlives it); the argument matches.
            let got = unsafe { f.bare()(-3) };
            Ok((got, local.iter().sum::<u64>() ^ (-3i8).bits()))
        });
        $r.case(concat!(stringify!($marker), " BareFnOnce moving [u64; 9000]"), || {
            type Bare = unsafe extern $abi fn(u16, u64) -> u64;
            let mut big = Box::new([0u64; 9000]);
            for (i, w) in big.iter_mut().enumerate() {
                *w = (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
            }
            let want = big[1234] ^ big.iter().fold(0u64, |a, &w| a.wrapping_add(w)) ^ 77;
            let big = *big;
            let f = BareFnOnce::<Bare>::try_with_cc(cc::$marker, move |i: u16, x: u64| -> u64 {
                let big = black_box(big);
                big[usize::from(i) % 9000] ^ big.iter().fold(0u64, |a, &w| a.wrapping_add(w)) ^ x
            })?;
            // SAFETY: `f` is alive; its only call; the arguments match the signature.
            let got = unsafe { f.bare()(1234, 77) };
            Ok((got, want))
        });
    };
}

/// A closure body with a `$size`-byte local array: above 4 KiB the template's prologue
/// probes the stack (a loop above 64 KiB or so, when inlined into the template).
macro_rules! big_frame {
    ($r:ident, $marker:ident, $abi:literal, $size:literal, $n:literal,
        [$($a:ident $i:tt $t:ty),*]) => {
        $r.case(concat!(stringify!($marker), " frame ", $size, " bytes arity ", $n), || {
            type Bare = unsafe extern $abi fn($($t),*) -> u64;
            let v = mixed();
            let bits: &[u64] = &[$(v.$i.bits()),*];
            let make = |salt: u64| move |$($a: $t),*| -> u64 {
                let mut frame = [0u8; $size];
                black_box(&mut frame);
                let call_bits: &[u64] = &[$($a.bits()),*];
                frame[(salt % $size) as usize] = call_bits.len() as u8 + 1;
                black_box(&mut frame);
                let sum: u64 = frame.iter().map(|&b| u64::from(b)).sum();
                checksum(salt ^ sum, call_bits)
            };
            let one = BareFn::<Bare>::try_with_cc(cc::$marker, make(SALT_ONE))?;
            let two = BareFn::<Bare>::try_with_cc(cc::$marker, make(SALT_TWO))?;
            // SAFETY: both owners are alive; the arguments match the signature.
            let got = unsafe { (one.bare()($(v.$i),*), two.bare()($(v.$i),*)) };
            let sum = $n + 1;
            Ok((got, (checksum(SALT_ONE ^ sum, bits), checksum(SALT_TWO ^ sum, bits))))
        });
    };
}

/// Float-heavy signatures: twelve mixed `f64`/`f32` arguments (more than the registers of
/// any ABI), four `f32` to an `f32`, and integer <-> float conversions.
macro_rules! floats {
    ($r:ident, $marker:ident, $abi:literal) => {
        $r.case(concat!(stringify!($marker), " floats arity 12"), || {
            type Bare = unsafe extern $abi fn(
                f64, f32, f64, f32, f64, f64, f32, f64, f64, f32, f64, f64,
            ) -> f64;
            let x = floats();
            let make = |salt: f64| {
                move |a: f64, b: f32, c: f64, d: f32, e: f64, f: f64,
                      g: f32, h: f64, i: f64, j: f32, k: f64, l: f64| -> f64 {
                    let (b, d, g, j) = (f64::from(b), f64::from(d), f64::from(g), f64::from(j));
                    float_mix(salt, &[a, b, c, d, e, f, g, h, i, j, k, l])
                }
            };
            let want = |salt: f64| {
                make(salt)(x.0, x.1, x.2, x.3, x.4, x.5, x.6, x.7, x.8, x.9, x.10, x.11).to_bits()
            };
            let one = BareFn::<Bare>::try_with_cc(cc::$marker, make(0.75))?;
            let two = BareFn::<Bare>::try_with_cc(cc::$marker, make(-1.0e20))?;
            // SAFETY: both owners are alive; the arguments match the signature.
            let call = |f: Bare| unsafe {
                f(x.0, x.1, x.2, x.3, x.4, x.5, x.6, x.7, x.8, x.9, x.10, x.11).to_bits()
            };
            Ok(((call(one.bare()), call(two.bare())), (want(0.75), want(-1.0e20))))
        });
        $r.case(concat!(stringify!($marker), " f32 arity 4"), || {
            type Bare = unsafe extern $abi fn(f32, f32, f32, f32) -> f32;
            let salt = 0.375f32;
            let f = BareFnMut::<Bare>::try_with_cc(
                cc::$marker,
                move |a: f32, b: f32, c: f32, d: f32| -> f32 { f32_mix(salt, a, b, c, d) },
            )?;
            // SAFETY: `f` is alive; the arguments match the signature.
            let got = unsafe { f.bare()(1.5, -2.0, 10.0, 4.0) };
            Ok((got.to_bits(), f32_mix(salt, 1.5, -2.0, 10.0, 4.0).to_bits()))
        });
        $r.case(concat!(stringify!($marker), " int<->float conversions"), || {
            type Bare = unsafe extern $abi fn(u64, f64, i32) -> u64;
            let salt = 1.0e-3f64;
            let f = BareFn::<Bare>::try_with_cc(cc::$marker, move |a: u64, b: f64, c: i32| -> u64 {
                convert_mix(salt, a, b, c)
            })?;
            let (a, b, c) = (u64::MAX - 12_345, 3.0e9, -77_777);
            // SAFETY: `f` is alive; the arguments match the signature.
            let got = unsafe { f.bare()(a, b, c) };
            Ok((got, convert_mix(salt, a, b, c)))
        });
    };
}

/// A struct returned by value (a hidden result pointer).
macro_rules! struct_return {
    ($r:ident, $marker:ident, $abi:literal) => {
        $r.case(concat!(stringify!($marker), " struct return"), || {
            type Bare = unsafe extern $abi fn(u32, f64) -> Wide;
            let make = |salt: u64| move |a: u32, b: f64| -> Wide { wide_of(salt, a, b) };
            let one = BareFn::<Bare>::try_with_cc(cc::$marker, make(SALT_ONE))?;
            let two = BareFn::<Bare>::try_with_cc(cc::$marker, make(SALT_TWO))?;
            // SAFETY: both owners are alive; the arguments match the signature.
            let got = unsafe { (one.bare()(0xDEAD_BEEF, -2.5), two.bare()(7, 1.0e-7)) };
            Ok((got, (wide_of(SALT_ONE, 0xDEAD_BEEF, -2.5), wide_of(SALT_TWO, 7, 1.0e-7))))
        });
    };
}

/// A panic caught inside the closure body (landing pads in the template), on every marker.
#[cfg(panic = "unwind")]
macro_rules! catch_inside {
    ($r:ident, $marker:ident, $abi:literal) => {
        $r.case(concat!(stringify!($marker), " catch_unwind inside"), || {
            type Bare = unsafe extern $abi fn(u32) -> u64;
            let salt = 0x5A5A_u64;
            let f = BareFn::<Bare>::try_with_cc(cc::$marker, move |x: u32| -> u64 {
                let inner = std::panic::catch_unwind(|| {
                    if x == 7 {
                        std::panic::panic_any(Unlucky(u64::from(x)));
                    }
                    u64::from(x) * 3
                });
                inner.unwrap_or(salt)
            })?;
            let bare = f.bare();
            // SAFETY: `f` is alive; the panic never leaves the closure.
            let got = unsafe { (bare(5), bare(7), bare(9)) };
            Ok((got, (15, salt, 27)))
        });
    };
}

#[cfg(panic = "abort")]
macro_rules! catch_inside {
    ($($any:tt)*) => {};
}

/// With an `-unwind` marker: a panic leaves the thunk and reaches `catch_unwind` in the
/// caller with its payload; the thunk keeps working. (Not under `panic=abort`.)
macro_rules! unwind_out {
    (nounwind, $($any:tt)*) => {};
    (unwind, $r:ident, $marker:ident, $abi:literal) => {
        #[cfg(panic = "unwind")]
        $r.case(concat!(stringify!($marker), " panic unwinds to the caller"), || {
            type Bare = unsafe extern $abi fn(u32, f64) -> u64;
            let make = |salt: u64| move |x: u32, y: f64| -> u64 {
                if x == 13 {
                    std::panic::panic_any(Unlucky(salt));
                }
                checksum(salt, &[x.bits(), y.bits()])
            };
            let one = BareFn::<Bare>::try_with_cc(cc::$marker, make(SALT_ONE))?;
            let two = BareFn::<Bare>::try_with_cc(cc::$marker, make(SALT_TWO))?;
            let (one_bare, two_bare) = (one.bare(), two.bare());
            // SAFETY: both owners are alive; the arguments match the signature; the
            // `-unwind` ABI lets the panic leave the calls.
            let caught = |bare: Bare| unsafe {
                let before = bare(1, 0.5);
                let payload = std::panic::catch_unwind(|| bare(13, 0.5))
                    .err()
                    .and_then(|e| e.downcast::<Unlucky>().ok())
                    .map(|p| p.0);
                (before, payload, bare(2, -0.5))
            };
            let want = |salt: u64| {
                let before = checksum(salt, &[1, 0.5f64.to_bits()]);
                (before, Some(salt), checksum(salt, &[2, (-0.5f64).to_bits()]))
            };
            Ok(((caught(one_bare), caught(two_bare)), (want(SALT_ONE), want(SALT_TWO))))
        });
    };
}

/// Every shape for one marker: a module `$name` with `run(&mut Report)`. `unwind` or
/// `nounwind` says whether the marker's ABI lets a panic unwind out of the thunk.
macro_rules! suite {
    ($name:ident, $marker:ident, $abi:literal, $unwind:ident) => {
        mod $name {
            #[allow(
                unused_imports,
                reason = "catch_inside uses Unlucky only under panic=unwind"
            )]
            use crate::values::*;
            use crate::{DropCount, DropToken, Report};
            use closure_ffi::{cc, BareFn, BareFnMut, BareFnOnce};
            use std::hint::black_box;

            /// Runs every shape with this marker.
            pub(crate) fn run(r: &mut Report) {
                with_mixed_args!(0, fn_arity!(r, $marker, $abi, 0,));
                with_mixed_args!(1, fn_arity!(r, $marker, $abi, 1,));
                with_mixed_args!(2, fn_arity!(r, $marker, $abi, 2,));
                with_mixed_args!(3, fn_arity!(r, $marker, $abi, 3,));
                with_mixed_args!(4, fn_arity!(r, $marker, $abi, 4,));
                with_mixed_args!(5, fn_arity!(r, $marker, $abi, 5,));
                with_mixed_args!(6, fn_arity!(r, $marker, $abi, 6,));
                with_mixed_args!(7, fn_arity!(r, $marker, $abi, 7,));
                with_mixed_args!(8, fn_arity!(r, $marker, $abi, 8,));
                with_mixed_args!(9, fn_arity!(r, $marker, $abi, 9,));
                with_mixed_args!(10, fn_arity!(r, $marker, $abi, 10,));
                with_mixed_args!(11, fn_arity!(r, $marker, $abi, 11,));
                with_mixed_args!(12, fn_arity!(r, $marker, $abi, 12,));
                with_mixed_args!(3, zero_sized!(r, $marker, $abi, 3,));
                with_mixed_args!(3, fn_mut_state!(r, $marker, $abi, 3,));
                with_mixed_args!(12, fn_mut_state!(r, $marker, $abi, 12,));
                with_mixed_args!(3, fn_once!(r, $marker, $abi, 3,));
                with_mixed_args!(12, fn_once!(r, $marker, $abi, 12,));
                big_captures!(r, $marker, $abi);
                with_mixed_args!(2, big_frame!(r, $marker, $abi, 5000, 2,));
                with_mixed_args!(12, big_frame!(r, $marker, $abi, 5000, 12,));
                with_mixed_args!(2, big_frame!(r, $marker, $abi, 70000, 2,));
                with_mixed_args!(12, big_frame!(r, $marker, $abi, 70000, 12,));
                with_mixed_args!(1, big_frame!(r, $marker, $abi, 1048576, 1,));
                floats!(r, $marker, $abi);
                struct_return!(r, $marker, $abi);
                catch_inside!(r, $marker, $abi);
                unwind_out!($unwind, r, $marker, $abi);
            }
        }
    };
}
