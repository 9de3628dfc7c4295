//! Panics and thunks: with an `-unwind` marker a panic in the closure unwinds through the
//! bare call into the caller's `catch_unwind`, payload intact, and the thunk keeps working.
//! With plain `C` a panic aborts the process, and so does a second call of a `BareFnOnce`:
//! both are checked in a child process (this test executable, re-run on one test).

#![cfg(feature = "default_jit_alloc")]

#[path = "common/abort.rs"]
mod abort;
#[path = "common/child.rs"]
mod child;

use std::panic::{catch_unwind, AssertUnwindSafe};

use closure_ffi::{cc, BareFn, BareFnMut, BareFnOnce};

/// Set in the child process: the name of the test that should do the aborting thing.
const CHILD_ENV: &str = "CLOSURE_FFI_UNWIND_TEST_CHILD";

/// A payload type that only this file creates.
#[derive(Debug, PartialEq)]
struct Payload {
    code: u32,
    text: String,
}

fn payload_of(err: Box<dyn std::any::Any + Send>) -> Payload {
    *err.downcast::<Payload>()
        .expect("the panic payload should be our `Payload`")
}

#[test]
fn with_cc_c_unwind_panic_reaches_catch_unwind() {
    let f = BareFn::with_cc(cc::CUnwind, |x: u32| -> u32 {
        if x == 13 {
            std::panic::panic_any(Payload {
                code: x,
                text: "unlucky".into(),
            });
        }
        x * 2
    });
    let bare: unsafe extern "C-unwind" fn(u32) -> u32 = f.bare();
    // SAFETY: `f` is alive.
    assert_eq!(unsafe { bare(4) }, 8, "before the panic");

    let caught = catch_unwind(|| {
        // SAFETY: `f` is alive; the C-unwind ABI lets the panic unwind out of the call.
        unsafe { bare(13) }
    });
    let payload = payload_of(caught.expect_err("the panic should reach catch_unwind"));
    assert_eq!(
        payload,
        Payload {
            code: 13,
            text: "unlucky".into()
        },
        "payload intact"
    );

    // SAFETY: `f` is alive.
    let got = unsafe { bare(5) };
    assert_eq!(got, 10, "the thunk still works after the unwind");
}

#[test]
fn new_c_unwind_panic_through_fn_mut_keeps_state() {
    let mut calls = 0u32;
    let f = BareFnMut::new_c_unwind(|x: u64, y: f64| -> f64 {
        calls += 1;
        if x == 0 {
            panic!("zero after {calls} calls");
        }
        x as f64 * y
    });
    let bare: unsafe extern "C-unwind" fn(u64, f64) -> f64 = f.bare();
    // SAFETY: `f` is alive; calls are sequential.
    assert_eq!(unsafe { bare(3, 0.5) }, 1.5, "before the panic");
    let caught = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as above; the panic unwinds out of the C-unwind call.
        unsafe { bare(0, 1.0) }
    }));
    let err = caught.expect_err("the panic should reach catch_unwind");
    let msg = err
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert_eq!(msg, "zero after 2 calls", "payload intact");
    // SAFETY: as above.
    let got = unsafe { bare(2, 2.0) };
    assert_eq!(got, 4.0, "the thunk still works after the unwind");
    drop(f);
    assert_eq!(calls, 3, "the closure's state survived the unwind");
}

#[test]
fn fn_once_unwind_drops_captures_once() {
    let counter = std::sync::Arc::new(());
    let held = counter.clone();
    let f = BareFnOnce::new_c_unwind(move |x: i32| -> i32 {
        let _held = &held;
        panic!("once: {x}");
    });
    let bare: unsafe extern "C-unwind" fn(i32) -> i32 = f.bare();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `f` is alive; its only call; the panic unwinds out of the C-unwind call.
        unsafe { bare(7) }
    }));
    let err = caught.expect_err("the panic should reach catch_unwind");
    assert_eq!(
        err.downcast_ref::<String>().map(String::as_str),
        Some("once: 7")
    );
    assert_eq!(
        std::sync::Arc::strong_count(&counter),
        1,
        "the unwinding FnOnce call dropped its captures"
    );
    drop(f);
    assert_eq!(
        std::sync::Arc::strong_count(&counter),
        1,
        "and the owner did not drop again"
    );
}

#[test]
fn new_system_unwind_panic_reaches_catch_unwind() {
    let f = BareFn::new_system_unwind(|x: i8| -> u64 {
        if x < 0 {
            panic!("negative");
        }
        x as u64
    });
    let bare: unsafe extern "system-unwind" fn(i8) -> u64 = f.bare();
    // SAFETY: `f` is alive.
    assert_eq!(unsafe { bare(9) }, 9);
    let caught = catch_unwind(|| {
        // SAFETY: `f` is alive; the panic unwinds out of the system-unwind call.
        unsafe { bare(-1) }
    });
    let err = caught.expect_err("the panic should reach catch_unwind");
    assert_eq!(
        err.downcast_ref::<&str>(),
        Some(&"negative"),
        "payload intact"
    );
}

// ---- aborts, in a child process ---------------------------------------------------------

/// Re-runs this test executable on the single test `name` with [`CHILD_ENV`] set, and
/// returns its exit status and stderr.
fn run_child(name: &str) -> (std::process::ExitStatus, String) {
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
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the child test `name` and asserts that it aborted (SIGABRT, or Windows' fast-fail), that its stderr
/// contains every string of `expected`, and that the aborting call did not return.
fn assert_child_aborts(name: &str, expected: &[&str]) {
    let (status, stderr) = run_child(name);
    assert!(
        !status.success(),
        "the child must not succeed; stderr:\n{stderr}"
    );
    assert!(
        abort::is_abort(&status),
        "the child must abort ({status:?}); stderr:\n{stderr}"
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

/// Whether this process is the child started for `name`.
fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).as_deref() == Ok(name)
}

#[test]
#[ignore = "aborts the process: run in a child process by panic_in_plain_c_thunk_aborts"]
fn child_panic_in_plain_c_thunk() {
    if !is_child("child_panic_in_plain_c_thunk") {
        return;
    }
    let f = BareFn::new_c(|x: u32| -> u32 {
        if x > 0 {
            panic!("child panic payload {x}");
        }
        x
    });
    // SAFETY: `f` is alive. The panic cannot unwind out of an `extern "C"` fn: it aborts.
    let r = unsafe { f.bare()(1) };
    eprintln!("UNREACHABLE: the call returned {r}");
}

#[test]
fn panic_in_plain_c_thunk_aborts() {
    // The panic message is printed before the abort.
    assert_child_aborts("child_panic_in_plain_c_thunk", &["child panic payload 1"]);
}

#[test]
#[ignore = "aborts the process: run in a child process by fn_once_second_call_aborts"]
fn child_fn_once_called_twice() {
    if !is_child("child_fn_once_called_twice") {
        return;
    }
    let label = String::from("captured");
    let f = BareFnOnce::new_c(move |x: u32| -> u32 { x + label.len() as u32 });
    let bare = f.bare();
    // SAFETY: `f` is alive; first call.
    let first = unsafe { bare(1) };
    eprintln!("first call returned {first}");
    // SAFETY: none: a second call is a contract violation that the library detects and
    // turns into an abort, which is what this child checks.
    let second = unsafe { bare(2) };
    eprintln!("UNREACHABLE: the second call returned {second}");
}

#[test]
fn fn_once_second_call_aborts() {
    // The first call works; the second is detected and aborts with a message.
    assert_child_aborts(
        "child_fn_once_called_twice",
        &["first call returned 9", "called a second time"],
    );
}

#[test]
#[cfg(target_arch = "x86_64")]
#[ignore = "aborts the process: run in a child process by panic_in_dynamic_closure_aborts"]
fn child_panic_in_dynamic_closure() {
    use closure_ffi::dynamic::{Abi, Cif, Closure, Type};
    if !is_child("child_panic_in_dynamic_closure") {
        return;
    }
    let cif = Cif::new(Abi::DEFAULT, [Type::U32], Type::U32).expect("valid Cif");
    let closure = Closure::new(cif, |args, _ret| {
        let x = args.get::<u32>(0).unwrap_or(0);
        panic!("dynamic closure panic payload {x}");
    })
    .expect("closure");
    // SAFETY: the closure's signature is `u32 (u32)`; the panic cannot unwind through the
    // closure entry: it aborts.
    let f: extern "C" fn(u32) -> u32 = unsafe { closure.fn_ptr() };
    let r = f(7);
    eprintln!("UNREACHABLE: the call returned {r}");
}

#[test]
#[cfg(target_arch = "x86_64")]
fn panic_in_dynamic_closure_aborts() {
    assert_child_aborts(
        "child_panic_in_dynamic_closure",
        &["dynamic closure panic payload 7"],
    );
}
