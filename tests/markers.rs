//! Every calling-convention marker of the target, built with its shorthand constructor
//! (`new_<abi>`) and with `with_cc(cc::<Marker>, ..)`, for arities 0, 1, 2, 3, 7 and 12 and
//! the struct signatures; called from Rust and, for every ABI that C can express, from the
//! C peer (`call_c_*`, `call_ms_*`, `call_stdcall_*`, `call_fastcall_*`, `call_thiscall_*`).

#![cfg(feature = "default_jit_alloc")]

mod common;

use std::cell::RefCell;

use closure_ffi::traits::FnPtr;
use closure_ffi::{cc, BareFn, BareFnMut, BareFnOnce};
use closure_ffi_test_support::{Large, Mixed, Small};
use common::{checksum, Bits};

/// Calls `$bare` from C through `$caller`, converting the pointer to the C side's ABI type
/// (e.g. `efiapi` = `win64` on x86_64, `C-unwind` = `C`). Evaluates to the number of calls
/// made: 1, or 0 when there is no C caller.
macro_rules! from_c {
    ([]; $($rest:tt)*) => {
        0usize
    };
    ([$c_abi:literal, $caller:ident]; $bare:expr, $want:expr, $what:expr; $v:ident; [$($i:tt $t:ty),*]) => {{
        let bare = $bare;
        // SAFETY: the marker's ABI is the same calling convention as the C side's `$c_abi`
        // on this target (see the suite table), and the signature is identical.
        let c_side = unsafe {
            <unsafe extern $c_abi fn($($t),*) -> u64 as FnPtr>::from_ptr(FnPtr::to_ptr(bare))
        };
        // SAFETY: the thunk's owner is alive; the C caller passes the arguments unchanged.
        let got = unsafe { closure_ffi_test_support::callers::$caller(c_side, $($v.$i),*) };
        assert_eq!(got, $want, "{}: called from C `{}`", $what, stringify!($caller));
        1usize
    }};
}

/// The struct-signature version of [`from_c`].
macro_rules! struct_from_c {
    ([]; $($rest:tt)*) => {};
    ([$c_abi:literal, $caller:ident]; $bare:expr, $s:ty, $k:ty, ($x:expr, $y:expr), $want:expr, $what:expr) => {{
        let bare = $bare;
        // SAFETY: same calling convention as the C side on this target; same signature.
        let c_side = unsafe {
            <unsafe extern $c_abi fn($s, $k) -> $s as FnPtr>::from_ptr(FnPtr::to_ptr(bare))
        };
        // SAFETY: the thunk's owner is alive; the C caller passes the arguments unchanged.
        let got = unsafe { closure_ffi_test_support::callers::$caller(c_side, $x, $y) };
        assert_eq!(got, $want, "{}: called from C `{}`", $what, stringify!($caller));
    }};
}

/// Checks one marker and one arity: `BareFn::$new` (shorthand), `BareFnMut::with_cc`
/// and `BareFnOnce::$new`, each capturing, called from Rust and from C.
macro_rules! check_arity {
    ($marker:ident, $abi:literal, $new:ident, [$($c:tt)*], [$($a:ident $i:tt $t:ty),*]) => {{
        type Bare = unsafe extern $abi fn($($t),*) -> u64;
        let arity = <[&str]>::len(&[$(stringify!($a)),*]);
        let what = format!("{} arity {arity}", $abi);
        let v = common::arg_values();
        let _ = &v; // unused at arity 0
        let want_bits: Vec<u64> = vec![$(v.$i.bits()),*];

        // Shorthand constructor, `Fn` closure recording its arguments.
        let salt = 0xABC0_0000_u64 + arity as u64;
        let want = checksum(salt, &want_bits);
        let seen: RefCell<Vec<Vec<u64>>> = RefCell::new(Vec::new());
        let f = BareFn::$new(|$($a: $t),*| -> u64 {
            let bits: Vec<u64> = vec![$($a.bits()),*];
            let sum = checksum(salt, &bits);
            seen.borrow_mut().push(bits);
            sum
        });
        let bare: Bare = f.bare();
        // SAFETY: `f` is alive; the arguments match the signature.
        unsafe {
            assert_eq!(bare($(v.$i),*), want, "{what}: BareFn::{} direct", stringify!($new));
            assert_eq!(FnPtr::call(bare, ($(v.$i,)*)), want, "{what}: FnPtr::call");
        }
        let c_calls = from_c!([$($c)*]; bare, want,
            format!("{what}: BareFn::{}", stringify!($new)); v; [$($i $t),*]);
        drop(f);
        let seen = seen.into_inner();
        assert_eq!(seen.len(), 2 + c_calls, "{what}: how many calls reached the closure");
        for (n, bits) in seen.iter().enumerate() {
            assert_eq!(bits, &want_bits, "{what}: arguments received by call {n}");
        }

        // `with_cc`, `FnMut` closure with a call counter.
        let mut calls = 0u64;
        let f = BareFnMut::with_cc(cc::$marker, |$($a: $t),*| -> u64 {
            calls += 1;
            checksum(salt ^ calls, &[$($a.bits()),*])
        });
        let bare: Bare = f.bare();
        // SAFETY: `f` is alive, calls are sequential; the arguments match the signature.
        let got = unsafe { bare($(v.$i),*) };
        assert_eq!(got, checksum(salt ^ 1, &want_bits), "{what}: BareFnMut::with_cc direct");
        let c_calls = from_c!([$($c)*]; bare, checksum(salt ^ 2, &want_bits),
            format!("{what}: BareFnMut::with_cc (2nd call)"); v; [$($i $t),*]);
        drop(f);
        assert_eq!(calls, 1 + c_calls as u64, "{what}: BareFnMut::with_cc call count");

        // Shorthand `FnOnce`, moving a captured `String` out.
        let label = format!("once-{arity}");
        let f = BareFnOnce::$new(move |$($a: $t),*| -> u64 {
            let label: String = label;
            checksum(label.len() as u64, &[$($a.bits()),*])
        });
        let bare: Bare = f.bare();
        // SAFETY: `f` is alive; this is its only call.
        let got = unsafe { bare($(v.$i),*) };
        assert_eq!(
            got,
            checksum(format!("once-{arity}").len() as u64, &want_bits),
            "{what}: BareFnOnce::{}", stringify!($new)
        );
    }};
}

/// Checks the three struct signatures for one marker.
macro_rules! check_structs {
    ($marker:ident, $abi:literal, $new:ident, [$($cs:tt)*], [$($cm:tt)*], [$($cl:tt)*]) => {{
        let salt = 77_i32;
        let s = common::small_input();
        let f = BareFn::$new(move |s: Small, k: i32| common::small_expected(s, k, salt));
        let bare: unsafe extern $abi fn(Small, i32) -> Small = f.bare();
        let want = common::small_expected(s, 9, salt);
        // SAFETY: `f` is alive; the arguments match the signature.
        assert_eq!(unsafe { bare(s, 9) }, want, "{}: Small, direct", $abi);
        struct_from_c!([$($cs)*]; bare, Small, i32, (s, 9), want, format!("{}: Small", $abi));

        let salt = -0.75_f64;
        let m = common::mixed_input();
        let f = BareFnMut::with_cc(cc::$marker, move |m: Mixed, k: f32| {
            common::mixed_expected(m, k, salt)
        });
        let bare: unsafe extern $abi fn(Mixed, f32) -> Mixed = f.bare();
        let want = common::mixed_expected(m, -4.5, salt);
        // SAFETY: `f` is alive; the arguments match the signature.
        assert_eq!(unsafe { bare(m, -4.5) }, want, "{}: Mixed, direct", $abi);
        struct_from_c!([$($cm)*]; bare, Mixed, f32, (m, -4.5), want, format!("{}: Mixed", $abi));

        let salt = 1_i64 << 40;
        let l = common::large_input();
        let f = BareFn::with_cc(cc::$marker, move |l: Large, k: u8| {
            common::large_expected(l, k, salt)
        });
        let bare: unsafe extern $abi fn(Large, u8) -> Large = f.bare();
        let want = common::large_expected(l, 0x81, salt);
        // SAFETY: `f` is alive; the arguments match the signature.
        assert_eq!(unsafe { bare(l, 0x81) }, want, "{}: Large, direct", $abi);
        struct_from_c!([$($cl)*]; bare, Large, u8, (l, 0x81), want, format!("{}: Large", $abi));
    }};
}

/// One test module per marker. `c: "<abi>" <prefix>` names the C callers of the same
/// calling convention (the `call_<prefix>_*` functions), if C can express it.
macro_rules! suite {
    ($mod:ident, $marker:ident, $abi:literal, $new:ident) => {
        suite!(@emit $mod, $marker, $abi, $new, [], [], [], [], [], [], [], [], []);
    };
    ($mod:ident, $marker:ident, $abi:literal, $new:ident, c: $c_abi:literal
        [$c0:ident, $c1:ident, $c2:ident, $c3:ident, $c7:ident, $c12:ident,
         $cs:ident, $cm:ident, $cl:ident]) => {
        suite!(@emit $mod, $marker, $abi, $new,
            [$c_abi, $c0], [$c_abi, $c1], [$c_abi, $c2], [$c_abi, $c3], [$c_abi, $c7],
            [$c_abi, $c12], [$c_abi, $cs], [$c_abi, $cm], [$c_abi, $cl]);
    };
    ($mod:ident, $marker:ident, $abi:literal, $new:ident, c_scalars_only: $c_abi:literal
        [$c0:ident, $c1:ident, $c2:ident, $c3:ident, $c7:ident, $c12:ident]) => {
        suite!(@emit $mod, $marker, $abi, $new,
            [$c_abi, $c0], [$c_abi, $c1], [$c_abi, $c2], [$c_abi, $c3], [$c_abi, $c7],
            [$c_abi, $c12], [], [], []);
    };
    (@emit $mod:ident, $marker:ident, $abi:literal, $new:ident,
        $c0:tt, $c1:tt, $c2:tt, $c3:tt, $c7:tt, $c12:tt, $cs:tt, $cm:tt, $cl:tt) => {
        mod $mod {
            use super::*;

            #[test]
            fn arity_0() {
                check_arity!($marker, $abi, $new, $c0, []);
            }

            #[test]
            fn arity_1() {
                check_arity!($marker, $abi, $new, $c1, [a0 0 i8]);
            }

            #[test]
            fn arity_2() {
                check_arity!($marker, $abi, $new, $c2, [a0 0 i8, a1 1 u16]);
            }

            #[test]
            fn arity_3() {
                check_arity!($marker, $abi, $new, $c3, [a0 0 i8, a1 1 u16, a2 2 i32]);
            }

            #[test]
            fn arity_7() {
                check_arity!($marker, $abi, $new, $c7, [a0 0 i8, a1 1 u16, a2 2 i32,
                    a3 3 u64, a4 4 f32, a5 5 f64, a6 6 *const u8]);
            }

            #[test]
            fn arity_12() {
                check_arity!($marker, $abi, $new, $c12, [a0 0 i8, a1 1 u16, a2 2 i32,
                    a3 3 u64, a4 4 f32, a5 5 f64, a6 6 *const u8, a7 7 i16, a8 8 u8,
                    a9 9 i64, a10 10 u32, a11 11 f64]);
            }

            #[test]
            fn structs() {
                check_structs!($marker, $abi, $new, $cs, $cm, $cl);
            }
        }
    };
}

// ---- every target ------------------------------------------------------------------------

// The Rust ABI has no C caller: Rust-only calls.
suite!(rust, Rust, "Rust", new_rust);
suite!(c, C, "C", new_c, c: "C" [call_c_0, call_c_1, call_c_2, call_c_3, call_c_7,
    call_c_12, call_c_small, call_c_mixed, call_c_large]);
suite!(c_unwind, CUnwind, "C-unwind", new_c_unwind, c: "C" [call_c_0, call_c_1, call_c_2,
    call_c_3, call_c_7, call_c_12, call_c_small, call_c_mixed, call_c_large]);
// "system" is "C" except on i686 Windows, where it is stdcall (its suites are in `x86`).
#[cfg(not(all(target_arch = "x86", windows)))]
suite!(system, System, "system", new_system, c: "C" [call_c_0, call_c_1, call_c_2, call_c_3,
    call_c_7, call_c_12, call_c_small, call_c_mixed, call_c_large]);
#[cfg(not(all(target_arch = "x86", windows)))]
suite!(system_unwind, SystemUnwind, "system-unwind", new_system_unwind, c: "C" [call_c_0,
    call_c_1, call_c_2, call_c_3, call_c_7, call_c_12, call_c_small, call_c_mixed,
    call_c_large]);

// ---- x86_64 ------------------------------------------------------------------------------

#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use super::*;

    // "efiapi" is the Microsoft x64 convention on x86_64 (gcc's `ms_abi`), and C calls it
    // through `call_ms_*`, except with `Mixed`: rustc (1.95) lowers a by-value `Mixed` of a
    // plain `extern "efiapi" fn` (no thunk involved) as the SysV pair `{ i64, double }` under
    // `win64cc`, where `extern "win64"` and gcc's `ms_abi` pass it by reference. So `Mixed` is
    // only called from Rust here; the `win64` suite covers `call_ms_mixed`.
    suite!(@emit efiapi, Efiapi, "efiapi", new_efiapi, ["win64", call_ms_0], ["win64", call_ms_1],
        ["win64", call_ms_2], ["win64", call_ms_3], ["win64", call_ms_7], ["win64", call_ms_12],
        ["win64", call_ms_small], [], ["win64", call_ms_large]);
    // C calls "sysv64" through `call_sysv_*` (gcc's `sysv_abi`), not `call_c_*`: "C" is
    // Win64 on Windows.
    suite!(sysv64, Sysv64, "sysv64", new_sysv64, c: "sysv64" [call_sysv_0, call_sysv_1,
        call_sysv_2, call_sysv_3, call_sysv_7, call_sysv_12, call_sysv_small, call_sysv_mixed,
        call_sysv_large]);
    suite!(sysv64_unwind, Sysv64Unwind, "sysv64-unwind", new_sysv64_unwind, c: "sysv64"
        [call_sysv_0, call_sysv_1, call_sysv_2, call_sysv_3, call_sysv_7, call_sysv_12,
        call_sysv_small, call_sysv_mixed, call_sysv_large]);
    suite!(win64, Win64, "win64", new_win64, c: "win64" [call_ms_0, call_ms_1, call_ms_2,
        call_ms_3, call_ms_7, call_ms_12, call_ms_small, call_ms_mixed, call_ms_large]);
    suite!(win64_unwind, Win64Unwind, "win64-unwind", new_win64_unwind, c: "win64" [call_ms_0,
        call_ms_1, call_ms_2, call_ms_3, call_ms_7, call_ms_12, call_ms_small, call_ms_mixed,
        call_ms_large]);
}

// ---- x86 (i686) --------------------------------------------------------------------------

#[cfg(target_arch = "x86")]
mod x86 {
    use super::*;

    // "efiapi" is cdecl on x86.
    suite!(efiapi, Efiapi, "efiapi", new_efiapi, c: "C" [call_c_0, call_c_1, call_c_2,
        call_c_3, call_c_7, call_c_12, call_c_small, call_c_mixed, call_c_large]);
    suite!(cdecl, Cdecl, "cdecl", new_cdecl, c: "C" [call_c_0, call_c_1, call_c_2, call_c_3,
        call_c_7, call_c_12, call_c_small, call_c_mixed, call_c_large]);
    suite!(cdecl_unwind, CdeclUnwind, "cdecl-unwind", new_cdecl_unwind, c: "C" [call_c_0,
        call_c_1, call_c_2, call_c_3, call_c_7, call_c_12, call_c_small, call_c_mixed,
        call_c_large]);
    suite!(stdcall, Stdcall, "stdcall", new_stdcall, c: "stdcall" [call_stdcall_0,
        call_stdcall_1, call_stdcall_2, call_stdcall_3, call_stdcall_7, call_stdcall_12,
        call_stdcall_small, call_stdcall_mixed, call_stdcall_large]);
    suite!(stdcall_unwind, StdcallUnwind, "stdcall-unwind", new_stdcall_unwind,
        c: "stdcall" [call_stdcall_0, call_stdcall_1, call_stdcall_2, call_stdcall_3,
        call_stdcall_7, call_stdcall_12, call_stdcall_small, call_stdcall_mixed,
        call_stdcall_large]);
    #[cfg(windows)]
    suite!(system, System, "system", new_system, c: "stdcall" [call_stdcall_0,
        call_stdcall_1, call_stdcall_2, call_stdcall_3, call_stdcall_7, call_stdcall_12,
        call_stdcall_small, call_stdcall_mixed, call_stdcall_large]);
    #[cfg(windows)]
    suite!(system_unwind, SystemUnwind, "system-unwind", new_system_unwind,
        c: "stdcall" [call_stdcall_0, call_stdcall_1, call_stdcall_2, call_stdcall_3,
        call_stdcall_7, call_stdcall_12, call_stdcall_small, call_stdcall_mixed,
        call_stdcall_large]);
    // fastcall and thiscall: C calls the scalar signatures only. With a struct argument or
    // return, rustc (1.95) and gcc disagree even for plain functions (no thunk involved):
    // for `fn(Small, i32) -> Small` gcc passes the sret pointer in ECX and `k` on the stack,
    // rustc passes `k` in a register, so a plain Rust `extern "fastcall" fn` called by
    // `call_fastcall_small` crashes. The struct signatures are called from Rust only.
    suite!(fastcall, Fastcall, "fastcall", new_fastcall, c_scalars_only: "fastcall" [
        call_fastcall_0, call_fastcall_1, call_fastcall_2, call_fastcall_3, call_fastcall_7,
        call_fastcall_12]);
    suite!(fastcall_unwind, FastcallUnwind, "fastcall-unwind", new_fastcall_unwind,
        c_scalars_only: "fastcall" [call_fastcall_0, call_fastcall_1, call_fastcall_2,
        call_fastcall_3, call_fastcall_7, call_fastcall_12]);
    suite!(thiscall, Thiscall, "thiscall", new_thiscall, c_scalars_only: "thiscall" [
        call_thiscall_0, call_thiscall_1, call_thiscall_2, call_thiscall_3, call_thiscall_7,
        call_thiscall_12]);
    suite!(thiscall_unwind, ThiscallUnwind, "thiscall-unwind", new_thiscall_unwind,
        c_scalars_only: "thiscall" [call_thiscall_0, call_thiscall_1, call_thiscall_2,
        call_thiscall_3, call_thiscall_7, call_thiscall_12]);
}

// ---- 32-bit Arm ---------------------------------------------------------------------------

#[cfg(target_arch = "arm")]
mod arm {
    use super::*;

    // "aapcs" is the base AAPCS: floating-point arguments in core registers, where "C" on
    // the gnueabihf targets is the VFP variant. The C peer is compiled for the VFP variant,
    // so these are called from Rust only (through their own `extern "aapcs"` pointers).
    suite!(aapcs, Aapcs, "aapcs", new_aapcs);
    suite!(aapcs_unwind, AapcsUnwind, "aapcs-unwind", new_aapcs_unwind);
    // "efiapi" is the base AAPCS on 32-bit Arm as well.
    suite!(efiapi, Efiapi, "efiapi", new_efiapi);
}
