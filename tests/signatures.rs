//! Every arity 0..=12 with the mixed argument types, and the struct signatures, through
//! `extern "C"` thunks: called from Rust (directly and with `FnPtr::call`) and from C.

#![cfg(feature = "default_jit_alloc")]

mod common;

use std::cell::{Cell, RefCell};

use closure_ffi::traits::FnPtr;
use closure_ffi::{BareFn, BareFnMut, BareFnOnce};
use closure_ffi_test_support::callers::*;
use closure_ffi_test_support::{Large, Mixed, Small};
use common::{checksum, Bits};

/// Salt mixed into the checksum by the zero-sized closures (a constant: they capture nothing).
const ZST_SALT: u64 = 0x0123_4567_0000_0000;

/// Generates one test per arity. `$a $i $t`: parameter name, index in `arg_values()`, type.
macro_rules! arity_test {
    ($name:ident, $caller:ident, [$($a:ident $i:tt $t:ty),*]) => {
        #[test]
        #[allow(unused_variables, clippy::too_many_arguments)]
        fn $name() {
            type Bare = unsafe extern "C" fn($($t),*) -> u64;
            let arity = <[&str]>::len(&[$(stringify!($a)),*]);
            let v = common::arg_values();
            let w = common::other_arg_values();
            let want_bits: Vec<u64> = vec![$(v.$i.bits()),*];
            let other_bits: Vec<u64> = vec![$(w.$i.bits()),*];

            // -- BareFn: a capturing `Fn` closure that records what it receives. --
            let salt = 0x5A17_0000_u64 + arity as u64;
            let seen: RefCell<Vec<Vec<u64>>> = RefCell::new(Vec::new());
            let f = BareFn::new_c(|$($a: $t),*| -> u64 {
                let bits: Vec<u64> = vec![$($a.bits()),*];
                let sum = checksum(salt, &bits);
                seen.borrow_mut().push(bits);
                sum
            });
            let bare: Bare = f.bare();
            let want = checksum(salt, &want_bits);
            let want_other = checksum(salt, &other_bits);

            // SAFETY: `f` is alive; the arguments match the signature.
            let direct = unsafe { bare($(v.$i),*) };
            assert_eq!(direct, want, "arity {arity}: direct call through BareFn::new_c");
            // SAFETY: as above.
            let packed = unsafe { FnPtr::call(bare, ($(w.$i,)*)) };
            assert_eq!(packed, want_other, "arity {arity}: FnPtr::call with a tuple");
            // SAFETY: as above; the C caller passes its arguments through unchanged.
            let from_c = unsafe { $caller(bare, $(v.$i),*) };
            assert_eq!(from_c, want, "arity {arity}: called from C `{}`", stringify!($caller));
            drop(f);
            let seen = seen.into_inner();
            assert_eq!(
                seen,
                vec![want_bits.clone(), other_bits.clone(), want_bits.clone()],
                "arity {arity}: the arguments the closure received (as bits), per call"
            );

            // -- BareFnMut: mutable state, the return depends on the call count. --
            let mut calls = 0u64;
            let mut log: Vec<Vec<u64>> = Vec::new();
            let salt_mut = salt ^ 0xFFFF;
            let f = BareFnMut::new_c(|$($a: $t),*| -> u64 {
                calls += 1;
                let bits: Vec<u64> = vec![$($a.bits()),*];
                let sum = checksum(salt_mut, &bits).wrapping_add(calls);
                log.push(bits);
                sum
            });
            let bare: Bare = f.bare();
            let want = checksum(salt_mut, &want_bits);
            // SAFETY: `f` is alive, calls are sequential; the arguments match.
            unsafe {
                assert_eq!(bare($(v.$i),*), want.wrapping_add(1), "arity {arity}: BareFnMut call 1");
                assert_eq!(
                    FnPtr::call(bare, ($(v.$i,)*)),
                    want.wrapping_add(2),
                    "arity {arity}: BareFnMut call 2 (FnPtr::call)"
                );
                assert_eq!(
                    $caller(bare, $(v.$i),*),
                    want.wrapping_add(3),
                    "arity {arity}: BareFnMut call 3 (from C)"
                );
            }
            drop(f);
            assert_eq!(calls, 3, "arity {arity}: BareFnMut call count");
            assert_eq!(log, vec![want_bits.clone(); 3], "arity {arity}: BareFnMut arguments");

            // -- BareFnOnce: one call, from C. --
            let once_seen = Cell::new(false);
            let captured = vec![salt; 3];
            let f = BareFnOnce::new_c(move |$($a: $t),*| -> u64 {
                once_seen.set(true);
                let bits: Vec<u64> = vec![$($a.bits()),*];
                checksum(captured.iter().sum(), &bits)
            });
            let bare: Bare = f.bare();
            // SAFETY: `f` is alive and this is its only call.
            let got = unsafe { $caller(bare, $(v.$i),*) };
            assert_eq!(got, checksum(salt * 3, &want_bits), "arity {arity}: BareFnOnce from C");
        }
    };
}

arity_test!(arity_0, call_c_0, []);
arity_test!(arity_1, call_c_1, [a0 0 i8]);
arity_test!(arity_2, call_c_2, [a0 0 i8, a1 1 u16]);
arity_test!(arity_3, call_c_3, [a0 0 i8, a1 1 u16, a2 2 i32]);
arity_test!(arity_4, call_c_4, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64]);
arity_test!(arity_5, call_c_5, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32]);
arity_test!(arity_6, call_c_6, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64]);
arity_test!(arity_7, call_c_7, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
    a6 6 *const u8]);
arity_test!(arity_8, call_c_8, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
    a6 6 *const u8, a7 7 i16]);
arity_test!(arity_9, call_c_9, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
    a6 6 *const u8, a7 7 i16, a8 8 u8]);
arity_test!(arity_10, call_c_10, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
    a6 6 *const u8, a7 7 i16, a8 8 u8, a9 9 i64]);
arity_test!(arity_11, call_c_11, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
    a6 6 *const u8, a7 7 i16, a8 8 u8, a9 9 i64, a10 10 u32]);
arity_test!(arity_12, call_c_12, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
    a6 6 *const u8, a7 7 i16, a8 8 u8, a9 9 i64, a10 10 u32, a11 11 f64]);

/// Zero-sized closures: the template itself is the pointer, so two owners of the same
/// closure type hand out the same address; the calls still see every argument.
macro_rules! zst_test {
    ($name:ident, $caller:ident, [$($a:ident $i:tt $t:ty),*]) => {
        #[test]
        #[allow(unused_variables, clippy::too_many_arguments)]
        fn $name() {
            type Bare = unsafe extern "C" fn($($t),*) -> u64;
            let arity = <[&str]>::len(&[$(stringify!($a)),*]);
            let v = common::arg_values();
            let want = checksum(ZST_SALT, &[$(v.$i.bits()),*]);

            let zst = |$($a: $t),*| -> u64 { checksum(ZST_SALT, &[$($a.bits()),*]) };
            assert_eq!(std::mem::size_of_val(&zst), 0, "the closure must capture nothing");
            let f1 = BareFn::new_c(zst);
            let f2 = BareFn::new_c(zst);
            let (p1, p2): (Bare, Bare) = (f1.bare(), f2.bare());
            assert_eq!(
                p1.to_ptr(),
                p2.to_ptr(),
                "arity {arity}: a zero-sized closure's thunk is its (shared) template"
            );
            // SAFETY: the owners are alive; the arguments match the signature.
            unsafe {
                assert_eq!(p1($(v.$i),*), want, "arity {arity}: ZST direct call");
                assert_eq!(FnPtr::call(p2, ($(v.$i,)*)), want, "arity {arity}: ZST FnPtr::call");
                assert_eq!($caller(p1, $(v.$i),*), want, "arity {arity}: ZST called from C");
            }

            let f = BareFnMut::new_c(zst);
            // SAFETY: `f` is alive; the arguments match the signature.
            let got = unsafe { $caller(f.bare(), $(v.$i),*) };
            assert_eq!(got, want, "arity {arity}: ZST BareFnMut called from C");

            let f = BareFnOnce::new_c(zst);
            // SAFETY: `f` is alive and called once.
            let got = unsafe { $caller(f.bare(), $(v.$i),*) };
            assert_eq!(got, want, "arity {arity}: ZST BareFnOnce called from C");
        }
    };
}

zst_test!(zst_arity_0, call_c_0, []);
zst_test!(zst_arity_1, call_c_1, [a0 0 i8]);
zst_test!(zst_arity_4, call_c_4, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64]);
zst_test!(zst_arity_7, call_c_7, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
    a6 6 *const u8]);
zst_test!(zst_arity_12, call_c_12, [a0 0 i8, a1 1 u16, a2 2 i32, a3 3 u64, a4 4 f32, a5 5 f64,
    a6 6 *const u8, a7 7 i16, a8 8 u8, a9 9 i64, a10 10 u32, a11 11 f64]);

/// A struct passed by value and returned: called directly, through `FnPtr::call` and from
/// the C caller; the closure must see the exact value each time.
macro_rules! struct_test {
    ($name:ident, $ty:ident, $k_ty:ty, $k:expr, $salt:expr, $input:ident, $expected:ident,
        $c_caller:ident) => {
        #[test]
        fn $name() {
            let salt = $salt;
            let seen = RefCell::new(Vec::new());
            let f = BareFn::new_c(|s: $ty, k: $k_ty| -> $ty {
                seen.borrow_mut().push((s, k));
                common::$expected(s, k, salt)
            });
            let bare: unsafe extern "C" fn($ty, $k_ty) -> $ty = f.bare();
            let s = common::$input();
            let want = common::$expected(s, $k, salt);
            let what = stringify!($ty);
            // SAFETY: `f` is alive; the arguments match the signature.
            unsafe {
                assert_eq!(bare(s, $k), want, "{what}: direct call");
                assert_eq!(FnPtr::call(bare, (s, $k)), want, "{what}: FnPtr::call");
                assert_eq!($c_caller(bare, s, $k), want, "{what}: called from C");
            }
            drop(f);
            assert_eq!(
                seen.into_inner(),
                vec![(s, $k); 3],
                "{what}: what the closure received"
            );
        }
    };
}

struct_test!(
    struct_small,
    Small,
    i32,
    -7,
    0x0BAD_F00D_i32,
    small_input,
    small_expected,
    call_c_small
);
struct_test!(
    struct_mixed,
    Mixed,
    f32,
    2.5,
    0.125_f64,
    mixed_input,
    mixed_expected,
    call_c_mixed
);
struct_test!(
    struct_large,
    Large,
    u8,
    0xF1,
    -0x1234_5678_9ABC_i64,
    large_input,
    large_expected,
    call_c_large
);

#[test]
fn struct_signatures_mut_and_zst() {
    // BareFnMut over all three struct signatures, from C, with state across calls.
    let mut n = 0;
    let f = BareFnMut::new_c(|s: Small, k: i32| -> Small {
        n += 1;
        common::small_expected(s, k, n)
    });
    let s = common::small_input();
    for i in 1..=3 {
        // SAFETY: `f` is alive, calls are sequential; the arguments match.
        let got = unsafe { call_c_small(f.bare(), s, i) };
        assert_eq!(
            got,
            common::small_expected(s, i, i),
            "Small BareFnMut call {i}"
        );
    }
    drop(f);
    assert_eq!(n, 3, "Small BareFnMut call count");

    // Zero-sized closures over the struct signatures.
    let m = common::mixed_input();
    let fm = BareFn::new_c(|m: Mixed, k: f32| common::mixed_expected(m, k, 0.0));
    // SAFETY: `fm` is alive; the arguments match.
    let got = unsafe { call_c_mixed(fm.bare(), m, -3.0) };
    assert_eq!(
        got,
        common::mixed_expected(m, -3.0, 0.0),
        "Mixed ZST from C"
    );

    let l = common::large_input();
    let fl = BareFn::new_c(|l: Large, k: u8| common::large_expected(l, k, 0));
    // SAFETY: `fl` is alive; the arguments match.
    let got = unsafe { call_c_large(fl.bare(), l, 3) };
    assert_eq!(got, common::large_expected(l, 3, 0), "Large ZST from C");
}
