//! Panics unwinding through C frames: a thunk with an `-unwind` ABI is called from C code
//! (`test-support/c/unwind_frames.c`, compiled with `-fexceptions`) through one or two C
//! frames; a panic in the closure unwinds through them into the Rust caller's
//! `catch_unwind` with its payload intact. The C frames record what ran in an
//! `UnwindTrace`: their `__attribute__((cleanup))` handler ran during the unwinding
//! (`cleanups`), and the code after the callback did not (`returns`).
//!
//! Every `-unwind` marker of the target is covered, each through the C caller of its
//! calling convention (`ms_abi` for `win64-unwind`; `stdcall`, `fastcall`, `thiscall` on
//! i686, whose callee pops its arguments, so a loop checks that unwinding leaves the stack
//! balanced). The closure's state and drops are checked for `BareFn`, `BareFnMut` and
//! `BareFnOnce` (`bare` and `into_bare`).
//!
//! The dynamic layer has no unwinding ABI (`dynamic::Abi` is `SysV64` or `Win64`, and a
//! panic in a `dynamic::Closure` aborts), so for it, as for a thunk with plain `"C"`, the
//! check is the other one: a panic under C frames aborts the process with the panic
//! message, in a child process (this test executable, re-run on one ignored test).

#![cfg(all(
    feature = "default_jit_alloc",
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm"
    )
))]

#[path = "common/abort.rs"]
mod abort;
#[path = "common/child.rs"]
mod child;

use std::any::Any;
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::sync::Arc;

use closure_ffi::traits::FnPtr;
use closure_ffi::{cc, BareFn, BareFnMut, BareFnOnce};

// The peer's C library is linked only if the test names the crate.
use closure_ffi_test_support as _;

/// `UnwindTrace` of `unwind_frames.c`.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct UnwindTrace {
    /// `cleanup` handlers that ran (on a normal return and during unwinding).
    cleanups: u32,
    /// Frames whose callback returned normally.
    returns: u32,
}

/// A callback of the target's C ABI, as `unwind_*_c` call it.
type CCallback = unsafe extern "C-unwind" fn(u32) -> u32;

/// One of the C entry points: `(callback, x, trace)`. `C-unwind`: a panic in the callback
/// unwinds out of them.
type Entry<Cb> = unsafe extern "C-unwind" fn(Cb, u32, *mut UnwindTrace) -> u32;

extern "C-unwind" {
    /// `cb(x) + 1`, in a frame with a cleanup.
    fn unwind_one_frame_c(cb: CCallback, x: u32, trace: *mut UnwindTrace) -> u32;
    /// `2 * cb(x) + 2`: a frame with a cleanup calls a plain frame that calls `cb`.
    fn unwind_two_frames_c(cb: CCallback, x: u32, trace: *mut UnwindTrace) -> u32;
}

/// A payload type that only this file creates.
#[derive(Debug, Clone, PartialEq)]
struct Payload {
    code: u32,
    text: String,
}

/// The payload of a caught panic, which must be a [`Payload`].
fn payload_of(err: Box<dyn Any + Send>) -> Payload {
    *err.downcast::<Payload>()
        .expect("the panic payload should be our `Payload`")
}

/// The C entry points of one calling convention.
struct CFrames<Cb> {
    one: Entry<Cb>,
    two: Entry<Cb>,
}

/// The entry points for callbacks of the target's C ABI.
fn c_frames() -> CFrames<CCallback> {
    CFrames {
        one: unwind_one_frame_c,
        two: unwind_two_frames_c,
    }
}

/// Converts a `u32 (u32)` thunk whose ABI is the C calling convention on this target
/// (`system-unwind`, `cdecl-unwind`; or plain `C`, which cannot unwind and
/// may therefore be called through a `C-unwind` pointer) to the type the C side calls.
fn as_c_callback<B: FnPtr>(bare: B) -> CCallback {
    // SAFETY: the callers pass only such ABIs, with the signature `u32 (u32)`.
    unsafe { CCallback::from_ptr(bare.to_ptr()) }
}

/// Calls `entry(cb, x)` under `catch_unwind`; returns the result and the trace.
fn call_c<Cb: Copy>(entry: Entry<Cb>, cb: Cb, x: u32) -> (std::thread::Result<u32>, UnwindTrace) {
    let mut trace = UnwindTrace::default();
    let result = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the caller keeps the thunk behind `cb` alive; `trace` outlives the call;
        // a panic may unwind out of the C-unwind call.
        unsafe { entry(cb, x, &mut trace) }
    }));
    (result, trace)
}

/// Calls `cb` through one and through two C frames, first with `ok` (for which `cb`
/// returns `want`), then with `bad` (for which it panics): checks the results and traces,
/// and returns the two panic payloads (one frame, two frames).
fn unwind_through_c<Cb: Copy>(
    frames: &CFrames<Cb>,
    cb: Cb,
    ok: u32,
    want: u32,
    bad: u32,
) -> [Box<dyn Any + Send>; 2] {
    let (result, trace) = call_c(frames.one, cb, ok);
    assert_eq!(result.ok(), Some(want + 1), "one C frame, no panic");
    let both = UnwindTrace {
        cleanups: 1,
        returns: 1,
    };
    assert_eq!(
        trace, both,
        "one C frame, no panic: returned and cleaned up"
    );

    let (result, trace) = call_c(frames.one, cb, bad);
    let unwound = UnwindTrace {
        cleanups: 1,
        returns: 0,
    };
    assert_eq!(
        trace, unwound,
        "one C frame: the panic ran the C cleanup and skipped the code after the call"
    );
    let first = result.expect_err("the panic should reach catch_unwind through one C frame");

    let (result, trace) = call_c(frames.two, cb, ok);
    assert_eq!(result.ok(), Some(2 * want + 2), "two C frames, no panic");
    let both = UnwindTrace {
        cleanups: 1,
        returns: 2,
    };
    assert_eq!(trace, both, "two C frames, no panic");

    let (result, trace) = call_c(frames.two, cb, bad);
    assert_eq!(
        trace, unwound,
        "two C frames: the panic crossed the plain frame and ran the outer frame's cleanup"
    );
    let second = result.expect_err("the panic should reach catch_unwind through two C frames");
    [first, second]
}

/// A `BareFn` closure: `x * 3 + salt`, and a [`Payload`] panic for `x == 13`.
fn triple_or_panic(salt: u32) -> impl Fn(u32) -> u32 {
    move |x| {
        if x == 13 {
            panic_any(Payload {
                code: x + salt,
                text: format!("unlucky {salt}"),
            });
        }
        x * 3 + salt
    }
}

/// The two payloads of [`triple_or_panic`]`(salt)` through [`unwind_through_c`].
fn check_triple_payloads(payloads: [Box<dyn Any + Send>; 2], salt: u32) {
    for (frames, payload) in ["one C frame", "two C frames"].iter().zip(payloads) {
        assert_eq!(
            payload_of(payload),
            Payload {
                code: 13 + salt,
                text: format!("unlucky {salt}"),
            },
            "{frames}: payload intact"
        );
    }
}

#[test]
fn c_unwind_panic_crosses_c_frames_and_runs_their_cleanups() {
    let f = BareFn::new_c_unwind(triple_or_panic(100));
    let cb: CCallback = f.bare();
    check_triple_payloads(unwind_through_c(&c_frames(), cb, 4, 112, 13), 100);
    // SAFETY: `f` is alive.
    let got = unsafe { cb(5) };
    assert_eq!(got, 115, "the thunk still works after the unwinds");
}

#[test]
fn system_unwind_fn_mut_state_survives_unwinding_through_c() {
    let mut calls = 0u32;
    let mut log = Vec::new();
    let f = BareFnMut::with_cc(cc::SystemUnwind, |x: u32| -> u32 {
        calls += 1;
        log.push(x);
        if x == 0 {
            panic!("zero after {calls} calls");
        }
        x + calls
    });
    let bare: unsafe extern "system-unwind" fn(u32) -> u32 = f.bare();
    let cb = as_c_callback(bare);
    let frames = c_frames();

    let (result, trace) = call_c(frames.one, cb, 10);
    assert_eq!(result.ok(), Some(10 + 1 + 1), "call 1 through one frame");
    assert_eq!(trace.cleanups, 1);
    let (result, trace) = call_c(frames.two, cb, 0);
    let err = result.expect_err("call 2 panics through two frames");
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("zero after 2 calls"),
        "payload intact"
    );
    assert_eq!(
        trace,
        UnwindTrace {
            cleanups: 1,
            returns: 0
        }
    );
    let (result, trace) = call_c(frames.two, cb, 20);
    assert_eq!(
        result.ok(),
        Some(2 * (20 + 3) + 2),
        "call 3 sees the state of call 2"
    );
    assert_eq!(
        trace,
        UnwindTrace {
            cleanups: 1,
            returns: 2
        }
    );
    drop(f);
    assert_eq!(calls, 3, "the closure's state survived the unwind");
    assert_eq!(log, [10, 0, 20]);
}

#[test]
fn fn_once_unwinding_through_c_drops_its_captures_once() {
    let counter = Arc::new(());
    let held = counter.clone();
    let label = String::from("captured label");
    let f = BareFnOnce::new_c_unwind(move |x: u32| -> u32 {
        let _held = &held;
        panic!("once: {x}, {label}");
    });
    let cb: CCallback = f.bare();
    let (result, trace) = call_c(unwind_two_frames_c, cb, 7);
    let err = result.expect_err("the panic should reach catch_unwind");
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("once: 7, captured label"),
        "payload intact"
    );
    assert_eq!(
        trace,
        UnwindTrace {
            cleanups: 1,
            returns: 0
        }
    );
    assert_eq!(
        Arc::strong_count(&counter),
        1,
        "the unwinding FnOnce call dropped its captures"
    );
    drop(f);
    assert_eq!(
        Arc::strong_count(&counter),
        1,
        "and the owner did not drop them again"
    );
}

#[test]
fn fn_once_into_bare_unwinding_through_c_releases_everything() {
    let counter = Arc::new(());
    let held = counter.clone();
    let f = BareFnOnce::new_c_unwind(move |x: u32| -> u32 {
        let _held = held;
        panic_any(Payload {
            code: x,
            text: "into_bare".into(),
        });
    });
    let cb: CCallback = f.into_bare();
    let (result, trace) = call_c(unwind_one_frame_c, cb, 9);
    assert_eq!(
        payload_of(result.expect_err("the panic should reach catch_unwind")),
        Payload {
            code: 9,
            text: "into_bare".into()
        }
    );
    assert_eq!(
        trace,
        UnwindTrace {
            cleanups: 1,
            returns: 0
        }
    );
    assert_eq!(
        Arc::strong_count(&counter),
        1,
        "the captures were dropped by the unwinding"
    );
}

/// One `-unwind` marker through the C frames of its calling convention: the checks of
/// [`unwind_through_c`] with a `BareFn`, then 200 unwinds through two frames alternating
/// with normal calls (a frame the unwinder restored wrongly, e.g. the stack pointer of a
/// callee-pops convention, would show up as a crash or a wrong result).
macro_rules! unwind_marker {
    ($test:ident, $marker:ident, $abi:literal, $frames:expr, $to_cb:expr) => {
        #[test]
        fn $test() {
            let f = BareFn::with_cc(cc::$marker, triple_or_panic(7));
            let bare: unsafe extern $abi fn(u32) -> u32 = f.bare();
            let cb = $to_cb(bare);
            let frames = $frames;
            check_triple_payloads(unwind_through_c(&frames, cb, 1, 10, 13), 7);
            let mut state = 0u32;
            for i in 0..200 {
                let (result, _) = call_c(frames.two, cb, if i % 2 == 0 { 13 } else { 1000 + i });
                match result {
                    Ok(value) => state = state.wrapping_add(value),
                    Err(payload) => assert_eq!(payload_of(payload).code, 20, "iteration {i}"),
                }
            }
            let want: u32 = (1..200).step_by(2).map(|i| 2 * (3 * (1000 + i) + 7) + 2).sum();
            assert_eq!(state, want, "the normal calls between the unwinds");
        }
    };
}

unwind_marker!(
    c_unwind_repeated,
    CUnwind,
    "C-unwind",
    c_frames(),
    |b: CCallback| b
);
unwind_marker!(
    system_unwind_repeated,
    SystemUnwind,
    "system-unwind",
    c_frames(),
    as_c_callback
);

#[cfg(target_arch = "x86_64")]
mod x86_64 {
    use super::*;

    /// `win64-unwind`, as gcc's `ms_abi` calls it.
    type MsCallback = unsafe extern "win64-unwind" fn(u32) -> u32;
    /// `sysv64-unwind`, as gcc's `sysv_abi` calls it (not the C ABI on Windows).
    type SysvCallback = unsafe extern "sysv64-unwind" fn(u32) -> u32;

    extern "C-unwind" {
        fn unwind_one_frame_ms(cb: MsCallback, x: u32, trace: *mut UnwindTrace) -> u32;
        fn unwind_two_frames_ms(cb: MsCallback, x: u32, trace: *mut UnwindTrace) -> u32;
        fn unwind_one_frame_sysv(cb: SysvCallback, x: u32, trace: *mut UnwindTrace) -> u32;
        fn unwind_two_frames_sysv(cb: SysvCallback, x: u32, trace: *mut UnwindTrace) -> u32;
    }

    fn ms_frames() -> CFrames<MsCallback> {
        CFrames {
            one: unwind_one_frame_ms,
            two: unwind_two_frames_ms,
        }
    }

    fn sysv_frames() -> CFrames<SysvCallback> {
        CFrames {
            one: unwind_one_frame_sysv,
            two: unwind_two_frames_sysv,
        }
    }

    unwind_marker!(
        sysv64_unwind_through_sysv_abi_c,
        Sysv64Unwind,
        "sysv64-unwind",
        sysv_frames(),
        |b: SysvCallback| b
    );
    unwind_marker!(
        win64_unwind_through_ms_abi_c,
        Win64Unwind,
        "win64-unwind",
        ms_frames(),
        |b: MsCallback| b
    );
}

#[cfg(target_arch = "x86")]
mod x86 {
    use super::*;

    type StdcallCallback = unsafe extern "stdcall-unwind" fn(u32) -> u32;
    type FastcallCallback = unsafe extern "fastcall-unwind" fn(u32) -> u32;
    type ThiscallCallback = unsafe extern "thiscall-unwind" fn(u32) -> u32;

    extern "C-unwind" {
        fn unwind_one_frame_stdcall(cb: StdcallCallback, x: u32, t: *mut UnwindTrace) -> u32;
        fn unwind_two_frames_stdcall(cb: StdcallCallback, x: u32, t: *mut UnwindTrace) -> u32;
        fn unwind_one_frame_fastcall(cb: FastcallCallback, x: u32, t: *mut UnwindTrace) -> u32;
        fn unwind_two_frames_fastcall(cb: FastcallCallback, x: u32, t: *mut UnwindTrace) -> u32;
        fn unwind_one_frame_thiscall(cb: ThiscallCallback, x: u32, t: *mut UnwindTrace) -> u32;
        fn unwind_two_frames_thiscall(cb: ThiscallCallback, x: u32, t: *mut UnwindTrace) -> u32;
    }

    unwind_marker!(
        cdecl_unwind_through_c,
        CdeclUnwind,
        "cdecl-unwind",
        c_frames(),
        as_c_callback
    );
    unwind_marker!(
        stdcall_unwind_through_stdcall_c,
        StdcallUnwind,
        "stdcall-unwind",
        CFrames {
            one: unwind_one_frame_stdcall,
            two: unwind_two_frames_stdcall,
        },
        |b: StdcallCallback| b
    );
    unwind_marker!(
        fastcall_unwind_through_fastcall_c,
        FastcallUnwind,
        "fastcall-unwind",
        CFrames {
            one: unwind_one_frame_fastcall,
            two: unwind_two_frames_fastcall,
        },
        |b: FastcallCallback| b
    );
    unwind_marker!(
        thiscall_unwind_through_thiscall_c,
        ThiscallUnwind,
        "thiscall-unwind",
        CFrames {
            one: unwind_one_frame_thiscall,
            two: unwind_two_frames_thiscall,
        },
        |b: ThiscallCallback| b
    );
}

// ---- aborts, in a child process ---------------------------------------------------------

/// Set in the child process: the name of the test that should do the aborting thing.
const CHILD_ENV: &str = "CLOSURE_FFI_UNWIND_C_TEST_CHILD";

/// Whether this process is the child started for `name`.
fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(name)
}

/// Re-runs this test executable on the single ignored test `name` with [`CHILD_ENV`] set,
/// and asserts that it aborted (SIGABRT, or Windows' fast-fail), that its stderr contains every string of
/// `expected`, and that the aborting call did not return.
fn assert_child_aborts(name: &str, expected: &[&str]) {
    let out = child::self_command()
        .args([
            "--exact",
            name,
            "--nocapture",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, name)
        .output()
        .expect("failed to run the child test process");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        abort::is_abort(&out.status),
        "the child must abort ({:?}); stderr:\n{stderr}",
        out.status
    );
    for text in expected {
        assert!(
            stderr.contains(text),
            "expected {text:?} in the child's stderr:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("UNREACHABLE"),
        "the call must not return; stderr:\n{stderr}"
    );
}

#[test]
#[ignore = "aborts: run in a child by plain_c_thunk_panic_under_c_frames_aborts"]
fn child_plain_c_thunk_panics_under_c_frames() {
    if !is_child("child_plain_c_thunk_panics_under_c_frames") {
        return;
    }
    let f = BareFn::new_c(|x: u32| -> u32 {
        if x > 0 {
            panic!("plain C thunk payload {x}");
        }
        x
    });
    // The C side's type says C-unwind; the thunk is plain C, which cannot unwind: the
    // panic aborts inside the thunk, before any C frame is unwound.
    let bare: unsafe extern "C" fn(u32) -> u32 = f.bare();
    let cb = as_c_callback(bare);
    let mut trace = UnwindTrace::default();
    // SAFETY: `f` is alive; `trace` outlives the call.
    let r = unsafe { unwind_two_frames_c(cb, 3, &mut trace) };
    eprintln!("UNREACHABLE: the call returned {r}, {trace:?}");
}

#[test]
fn plain_c_thunk_panic_under_c_frames_aborts() {
    assert_child_aborts(
        "child_plain_c_thunk_panics_under_c_frames",
        &[
            "plain C thunk payload 3",
            "panic in a function that cannot unwind",
        ],
    );
}

#[cfg(target_arch = "x86_64")]
mod dynamic {
    use super::*;
    use closure_ffi::dynamic::{Abi, Cif, Closure, Type};

    /// A `u32 (u32)` dynamic closure that panics, interpreted or with a compiled entry,
    /// called from C through two frames.
    fn panic_under_c_frames(compiled: bool) {
        let mut cif = Cif::new(Abi::DEFAULT, [Type::U32], Type::U32).expect("valid Cif");
        if compiled {
            cif.compile().expect("compiled entry");
        }
        let closure = Closure::new(cif, move |args, _ret| {
            let x = args.get::<u32>(0).unwrap_or(0);
            panic!("dynamic closure payload {x} (compiled: {compiled})");
        })
        .expect("closure");
        // SAFETY: the closure's signature is `u32 (u32)` in the C ABI; it never unwinds
        // (a panic aborts), so calling it as C-unwind is sound.
        let cb: CCallback = unsafe { closure.fn_ptr() };
        let mut trace = UnwindTrace::default();
        // SAFETY: `closure` is alive; `trace` outlives the call.
        let r = unsafe { unwind_two_frames_c(cb, 11, &mut trace) };
        eprintln!("UNREACHABLE: the call returned {r}, {trace:?}");
    }

    #[test]
    #[ignore = "aborts: run in a child by dynamic_closure_panic_under_c_frames_aborts"]
    fn child_dynamic_closure_panics_under_c_frames() {
        if is_child("dynamic::child_dynamic_closure_panics_under_c_frames") {
            panic_under_c_frames(false);
        }
    }

    #[test]
    #[ignore = "aborts: run in a child by dynamic_closure_panic_under_c_frames_aborts"]
    fn child_compiled_dynamic_closure_panics_under_c_frames() {
        if is_child("dynamic::child_compiled_dynamic_closure_panics_under_c_frames") {
            panic_under_c_frames(true);
        }
    }

    #[test]
    fn dynamic_closure_panic_under_c_frames_aborts() {
        assert_child_aborts(
            "dynamic::child_dynamic_closure_panics_under_c_frames",
            &["dynamic closure payload 11 (compiled: false)"],
        );
        assert_child_aborts(
            "dynamic::child_compiled_dynamic_closure_panics_under_c_frames",
            &["dynamic closure payload 11 (compiled: true)"],
        );
    }
}
