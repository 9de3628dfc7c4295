//! C-variadic thunks (feature `c_variadic`, nightly): closures become
//! `unsafe extern "C" fn(T0.., ...) -> R` pointers and receive the variable arguments as a
//! `VaList`. Called from the C peer (`test-support/c/variadic.c`: printf-style callers with
//! mixed, integer-only and register-overflowing argument lists) and from Rust.
//!
//! Run with `cargo +nightly test --features c_variadic --test variadic`.

#![cfg(all(feature = "c_variadic", feature = "default_jit_alloc"))]
#![cfg_attr(feature = "c_variadic", feature(c_variadic))]

mod common;

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_int, c_longlong, c_uint, CStr, VaList};
use std::sync::atomic::{AtomicUsize, Ordering};

use closure_ffi::traits::{FnMutThunk, FnOnceThunk, FnPtr, FnThunk};
use closure_ffi::{cc, thunk_factory, BareFn, BareFnMut, BareFnOnce, GlobalJitAlloc};
// Links the C peer, which holds the `var_call_*` callers declared below.
use closure_ffi_test_support as _;
use common::{arg_values, AllocCounters, CountingAlloc, DropCounter};

/// `int (*)(const char *fmt, ...)`, the callback type of the printf-style C callers.
type FmtFn = unsafe extern "C" fn(*const c_char, ...) -> c_int;
/// `double (*)(int32_t count, double scale, const char *tag, ...)`.
type ScaledFn = unsafe extern "C" fn(i32, f64, *const c_char, ...) -> f64;

extern "C" {
    /// `cb("i=%d ll=%lld d=%.3f s=%s c=%c h=%d f=%.2f", ...)`, see [`MIXED_TEXT`].
    fn var_call_mixed(cb: FmtFn) -> c_int;
    /// Ten integer-class arguments, no floating point (`al = 0` on SysV x86_64).
    fn var_call_ints(cb: FmtFn) -> c_int;
    /// Ten doubles interleaved with ten integers (registers overflow onto the stack).
    fn var_call_many(cb: FmtFn) -> c_int;
    /// `cb("%d", i)` for `i` in `0..n`; the sum of the results.
    fn var_call_n(cb: FmtFn, n: i32) -> i64;
    /// `cb(3, 0.5, "tag", 1.0, 2.0, 4.0)`.
    fn var_call_scaled(cb: ScaledFn) -> f64;
    /// libc.
    fn vsnprintf(buf: *mut c_char, size: usize, fmt: *const c_char, args: VaList<'_>) -> c_int;
}

/// What `var_call_mixed` formats to.
const MIXED_TEXT: &str = "i=-42 ll=4886718345 d=2.500 s=str c=x h=-7 f=0.25";
/// The sum of `var_call_mixed`'s arguments (a string counts its length), and their count.
const MIXED_SUM: (f64, c_int) = (-42.0 + 4_886_718_345.0 + 2.5 + 3.0 + 120.0 - 7.0 + 0.25, 7);
/// What `var_call_ints` formats to.
const INTS_TEXT: &str = "1 -2 -3000000000 4000000000 5 abcdef 7 8000000000 9 -10";
/// The sum and count of `var_call_ints`'s arguments.
const INTS_SUM: (f64, c_int) = (
    1.0 - 2.0 - 3_000_000_000.0 + 4_000_000_000.0 + 5.0 + 6.0 + 7.0 + 8_000_000_000.0 + 9.0 - 10.0,
    10,
);
/// The sum and count of `var_call_many`'s arguments: 1..=10 and 0.5, 1.5, .., 9.5.
const MANY_SUM: (f64, c_int) = (55.0 + 50.0, 20);

/// What `var_call_many` formats to.
fn many_text() -> String {
    (1..=10)
        .map(|i| format!("{i} {:.6}", f64::from(i) - 0.5))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One conversion of a printf-style format (the ones the callers use).
#[derive(Debug, Clone, Copy)]
enum Conversion {
    /// `%d`, `%c` (a promoted `char`, and `short`).
    Int,
    /// `%lld`.
    LongLong,
    /// `%u`.
    UInt,
    /// `%f` with any precision (a `double`, or a promoted `float`).
    Double,
    /// `%s`.
    Str,
}

/// The conversions of `fmt`, in order.
fn conversions(fmt: &CStr) -> Vec<Conversion> {
    let bytes = fmt.to_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            i += 1;
            continue;
        }
        i += 1;
        while bytes[i].is_ascii_digit() || bytes[i] == b'.' {
            i += 1;
        }
        let mut longs = 0;
        while bytes[i] == b'l' {
            longs += 1;
            i += 1;
        }
        out.push(match (bytes[i], longs) {
            (b'd' | b'c', 0) => Conversion::Int,
            (b'd', 2) => Conversion::LongLong,
            (b'u', 0) => Conversion::UInt,
            (b'f', 0) => Conversion::Double,
            (b's', 0) => Conversion::Str,
            (c, _) => panic!("unexpected conversion {:?} in {fmt:?}", c as char),
        });
        i += 1;
    }
    out
}

/// Reads the arguments `fmt` announces from `args` with `VaList::next_arg` and returns their
/// sum (a string counts its length) and count.
///
/// # Safety
/// `fmt` must be a C string and `args` must hold (at least) the arguments it announces.
unsafe fn sum_args(fmt: *const c_char, args: &mut VaList<'_>) -> (f64, c_int) {
    // SAFETY: the caller passes a C string.
    let conversions = conversions(unsafe { CStr::from_ptr(fmt) });
    let mut sum = 0.0;
    for conversion in &conversions {
        // SAFETY: the caller passes the arguments the format announces, promoted as C does
        // (char and short to int, float to double).
        sum += unsafe {
            match conversion {
                Conversion::Int => f64::from(args.next_arg::<c_int>()),
                Conversion::LongLong => args.next_arg::<c_longlong>() as f64,
                Conversion::UInt => f64::from(args.next_arg::<c_uint>()),
                Conversion::Double => args.next_arg::<f64>(),
                Conversion::Str => {
                    CStr::from_ptr(args.next_arg::<*const c_char>()).count_bytes() as f64
                }
            }
        };
    }
    (sum, conversions.len() as c_int)
}

/// Formats `fmt` and `args` with libc's `vsnprintf` into `buf`; returns its result.
///
/// # Safety
/// As `vsnprintf`: `fmt` is a format whose arguments `args` holds.
unsafe fn format_into(buf: &mut [u8], fmt: *const c_char, args: VaList<'_>) -> c_int {
    // SAFETY: `buf` is writable for its length; the rest is forwarded from the caller.
    unsafe { vsnprintf(buf.as_mut_ptr().cast(), buf.len(), fmt, args) }
}

/// The NUL-terminated text at the start of `buf`.
fn text(buf: &[u8]) -> String {
    CStr::from_bytes_until_nul(buf)
        .expect("vsnprintf terminates its output")
        .to_str()
        .expect("ASCII output")
        .to_owned()
}

#[test]
fn va_list_forwarded_to_vsnprintf_formats_into_a_captured_buffer() {
    let mut texts = Vec::new();
    let mut buf = [0u8; 256];
    let f = BareFnMut::new_variadic(|fmt: *const c_char, args: VaList<'_>| -> c_int {
        // SAFETY: every caller below passes a format and its arguments.
        let len = unsafe { format_into(&mut buf, fmt, args) };
        texts.push(text(&buf));
        len
    });
    let bare: FmtFn = f.bare();
    // SAFETY: `f` is alive; the calls are sequential.
    let lens = unsafe {
        [
            var_call_mixed(bare),
            var_call_ints(bare),
            var_call_many(bare),
            bare(
                c"%s|%5.1f|%c|%lld".as_ptr(),
                c"rust".as_ptr(),
                12.34f64,
                c_int::from(b'z'),
                -1i64 as c_longlong,
            ),
        ]
    };
    drop(f);

    let want = [
        MIXED_TEXT.to_owned(),
        INTS_TEXT.to_owned(),
        many_text(),
        "rust| 12.3|z|-1".to_owned(),
    ];
    assert_eq!(texts, want, "texts formatted by vsnprintf, in call order");
    let want_lens = want.map(|t| t.len() as c_int);
    assert_eq!(
        lens, want_lens,
        "vsnprintf's lengths, returned through the thunk"
    );
}

#[test]
fn closure_reads_the_arguments_following_the_format() {
    let sums = RefCell::new(Vec::new());
    let calls = Cell::new(0);
    let f = BareFn::new_variadic(|fmt: *const c_char, mut args: VaList<'_>| -> c_int {
        calls.set(calls.get() + 1);
        // SAFETY: every caller below passes a format and its arguments.
        let (sum, count) = unsafe { sum_args(fmt, &mut args) };
        sums.borrow_mut().push(sum);
        count
    });
    let bare: FmtFn = f.bare();
    // SAFETY: `f` is alive; the calls are sequential.
    let counts = unsafe {
        [
            var_call_mixed(bare),
            var_call_ints(bare),
            var_call_many(bare),
            bare(
                c"%d %f %s %u".as_ptr(),
                -5 as c_int,
                0.125f64,
                c"four".as_ptr(),
                7 as c_uint,
            ),
        ]
    };
    drop(f);

    let want = [MIXED_SUM, INTS_SUM, MANY_SUM, (-5.0 + 0.125 + 4.0 + 7.0, 4)];
    assert_eq!(calls.get(), want.len(), "one closure call per thunk call");
    assert_eq!(
        counts,
        want.map(|w| w.1),
        "arguments announced by each format"
    );
    assert_eq!(
        sums.into_inner(),
        want.map(|w| w.0),
        "sum of the arguments read with next_arg, per call"
    );
}

#[test]
fn fn_mut_state_persists_across_calls() {
    let mut total = 0i64;
    let mut history = Vec::new();
    let f = BareFnMut::new_variadic(|fmt: *const c_char, mut args: VaList<'_>| -> c_int {
        // SAFETY: every caller below passes "%d" and one int.
        let x = unsafe {
            assert_eq!(CStr::from_ptr(fmt), c"%d", "format of the caller");
            args.next_arg::<c_int>()
        };
        total += i64::from(x);
        history.push(x);
        total as c_int
    });
    let bare: FmtFn = f.bare();
    // SAFETY: `f` is alive; the calls are sequential.
    unsafe {
        assert_eq!(
            bare(c"%d".as_ptr(), 5 as c_int),
            5,
            "first call: running total"
        );
        assert_eq!(
            bare(c"%d".as_ptr(), -2 as c_int),
            3,
            "second call sees the first"
        );
    }
    // From C: var_call_n calls cb("%d", 0..n) and sums the results.
    let n = 6;
    let mut model = 3i64;
    let want: i64 = (0..i64::from(n))
        .map(|i| {
            model += i;
            model
        })
        .sum();
    // SAFETY: `f` is alive; C calls it sequentially.
    let got = unsafe { var_call_n(bare, n) };
    assert_eq!(got, want, "sum of the running totals");
    drop(f);

    assert_eq!(total, model, "final captured state");
    let mut want_history = vec![5, -2];
    want_history.extend(0..n);
    assert_eq!(history, want_history, "every argument, in call order");
}

/// The `Fn`, `FnMut` and `FnOnce` templates of `(cc::Variadic, F)` for `FmtFn`.
fn templates<F>(_: &F) -> [*const u8; 3]
where
    (cc::Variadic, F): FnThunk<FmtFn>,
{
    [
        <(cc::Variadic, F) as FnThunk<FmtFn>>::THUNK_TEMPLATE,
        <(cc::Variadic, F) as FnMutThunk<FmtFn>>::THUNK_TEMPLATE_MUT,
        <(cc::Variadic, F) as FnOnceThunk<FmtFn>>::THUNK_TEMPLATE_ONCE,
    ]
}

#[test]
fn zero_sized_closure_is_its_own_template() {
    let body = |fmt: *const c_char, mut args: VaList<'_>| -> c_int {
        // SAFETY: every caller below passes a format and its arguments.
        let (sum, count) = unsafe { sum_args(fmt, &mut args) };
        count * 1000 + sum as c_int
    };
    assert_eq!(size_of_val(&body), 0, "the closure captures nothing");
    let [fn_template, mut_template, once_template] = templates(&body);

    let f = BareFn::new_variadic(body);
    let m = BareFnMut::new_variadic(body);
    let o = BareFnOnce::new_variadic(body);
    assert_eq!(
        f.bare() as *const u8,
        fn_template,
        "BareFn hands out the template"
    );
    assert_eq!(
        m.bare() as *const u8,
        mut_template,
        "BareFnMut hands out the template"
    );
    assert_eq!(
        o.bare() as *const u8,
        once_template,
        "BareFnOnce hands out the template"
    );

    let want = MANY_SUM.1 * 1000 + MANY_SUM.0 as c_int;
    // SAFETY: the owners are alive; the FnOnce thunk is called once.
    unsafe {
        assert_eq!(var_call_many(f.bare()), want, "BareFn from C");
        assert_eq!(var_call_many(m.bare()), want, "BareFnMut from C");
        assert_eq!(var_call_many(o.bare()), want, "BareFnOnce from C");
        assert_eq!(
            (f.bare())(c"%d %f".as_ptr(), 2 as c_int, 40.0f64),
            2042,
            "BareFn from Rust"
        );
    }
}

#[test]
fn fn_once_moves_its_captures_out_and_drops_them_once() {
    let counter = DropCounter::new();
    let token = counter.token();
    let observer = counter.clone();
    let mut owned = String::from("once:");
    let f = BareFnOnce::new_variadic(move |fmt: *const c_char, args: VaList<'_>| -> c_int {
        let _ = token.touch();
        let mut buf = [0u8; 128];
        // SAFETY: the caller passes a format and its arguments.
        unsafe { format_into(&mut buf, fmt, args) };
        owned.push_str(&text(&buf));
        assert_eq!(
            owned,
            format!("once:{MIXED_TEXT}"),
            "text built in the closure"
        );
        // The captures are still alive here: they are dropped when the body returns.
        (observer.drops() * 100 + owned.len()) as c_int
    });
    assert_eq!(counter.drops(), 0, "nothing dropped before the call");
    // SAFETY: `f` is alive; its thunk is called once.
    let got = unsafe { var_call_mixed(f.bare()) };
    assert_eq!(
        got,
        ("once:".len() + MIXED_TEXT.len()) as c_int,
        "result of the call"
    );
    assert_eq!(counter.drops(), 1, "the captures are dropped by the call");
    drop(f);
    assert_eq!(counter.drops(), 1, "and not again by the owner");
}

#[test]
fn fn_once_into_bare_releases_the_thunk_during_the_call() {
    static COUNTERS: AllocCounters = AllocCounters::new();
    static RELEASES_SEEN_BY_BODY: AtomicUsize = AtomicUsize::new(usize::MAX);

    let counter = DropCounter::new();
    let token = counter.token();
    let f = BareFnOnce::new_variadic_in(
        move |fmt: *const c_char, mut args: VaList<'_>| -> c_int {
            let _ = token.touch();
            RELEASES_SEEN_BY_BODY.store(COUNTERS.releases(), Ordering::SeqCst);
            // SAFETY: the caller passes a format and its arguments.
            unsafe { sum_args(fmt, &mut args) }.1
        },
        CountingAlloc {
            inner: GlobalJitAlloc,
            counters: &COUNTERS,
        },
    );
    assert_eq!(COUNTERS.allocs(), 1, "one allocation for the thunk");
    let bare: FmtFn = f.into_bare();
    assert_eq!(
        COUNTERS.releases(),
        0,
        "into_bare releases nothing before the call"
    );
    // SAFETY: the thunk was handed out with into_bare and is called once.
    let got = unsafe { var_call_many(bare) };
    assert_eq!(got, MANY_SUM.1, "result of the call");
    assert_eq!(
        RELEASES_SEEN_BY_BODY.load(Ordering::SeqCst),
        1,
        "the thunk memory is released before the body runs"
    );
    assert_eq!(COUNTERS.live(), 0, "nothing left allocated");
    assert_eq!(counter.drops(), 1, "the captures are dropped by the call");
}

#[test]
fn three_fixed_arguments_before_the_variable_ones() {
    let offset = 100.0;
    let f = BareFn::new_variadic(
        |count: i32, scale: f64, tag: *const c_char, mut args: VaList<'_>| -> f64 {
            // SAFETY: the callers pass a C string and `count` doubles.
            let (tag_len, doubles) = unsafe {
                let tag_len = CStr::from_ptr(tag).count_bytes();
                let doubles: f64 = (0..count).map(|_| args.next_arg::<f64>()).sum();
                (tag_len, doubles)
            };
            doubles * scale + offset + tag_len as f64
        },
    );
    let bare: ScaledFn = f.bare();
    // SAFETY: `f` is alive.
    unsafe {
        assert_eq!(
            var_call_scaled(bare),
            (1.0 + 2.0 + 4.0) * 0.5 + offset + 3.0,
            "from C"
        );
        assert_eq!(
            bare(2, -1.0, c"ab".as_ptr(), 8.0f64, 0.5f64),
            -8.5 + offset + 2.0,
            "from Rust"
        );
    }
}

#[test]
fn no_fixed_arguments() {
    let count = 3;
    let f = BareFn::new_variadic(|mut args: VaList<'_>| -> i64 {
        // SAFETY: the caller passes `count` 64-bit integers.
        (0..count).map(|_| unsafe { args.next_arg::<i64>() }).sum()
    });
    let bare: unsafe extern "C" fn(...) -> i64 = f.bare();
    // SAFETY: `f` is alive.
    assert_eq!(unsafe { bare(1i64, -20i64, 300i64) }, 281, "from Rust");
}

#[test]
fn twelve_fixed_arguments_then_variable_ones() {
    type Twelve = unsafe extern "C" fn(
        i8,
        u16,
        i32,
        u64,
        f32,
        f64,
        *const u8,
        i16,
        u8,
        i64,
        u32,
        f64,
        ...
    ) -> f64;
    let seen = RefCell::new(None);
    let f = BareFnMut::new_variadic(
        |a0: i8,
         a1: u16,
         a2: i32,
         a3: u64,
         a4: f32,
         a5: f64,
         a6: *const u8,
         a7: i16,
         a8: u8,
         a9: i64,
         a10: u32,
         a11: f64,
         mut args: VaList<'_>|
         -> f64 {
            *seen.borrow_mut() = Some((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11));
            // SAFETY: the caller passes an int and a double.
            unsafe { f64::from(args.next_arg::<c_int>()) + args.next_arg::<f64>() }
        },
    );
    let bare: Twelve = f.bare();
    let v = arg_values();
    // SAFETY: `f` is alive.
    let got = unsafe {
        bare(
            v.0,
            v.1,
            v.2,
            v.3,
            v.4,
            v.5,
            v.6,
            v.7,
            v.8,
            v.9,
            v.10,
            v.11,
            -9 as c_int,
            0.75f64,
        )
    };
    drop(f);
    assert_eq!(got, -8.25, "variable arguments after twelve fixed ones");
    assert_eq!(seen.into_inner(), Some(v), "the twelve fixed arguments");
}

/// Calls `thunk` through [`FnThunk::call`] with this function's own variable arguments.
///
/// # Safety
/// As the thunk's closure requires.
unsafe extern "C" fn call_through<T: FnThunk<FmtFn>>(
    thunk: *const T,
    fmt: *const c_char,
    args: ...
) -> c_int {
    // SAFETY: `thunk` is a live reference (see the caller); the rest is forwarded.
    unsafe { (*thunk).call((fmt, args)) }
}

#[test]
fn thunk_factory_and_trait_calls_take_the_packed_va_list() {
    let calls = Cell::new(0);
    let thunk =
        thunk_factory::make::<FmtFn, _>(|(fmt, mut args): (*const c_char, VaList<'_>)| -> c_int {
            calls.set(calls.get() + 1);
            // SAFETY: the callers pass a format and its arguments.
            unsafe { sum_args(fmt, &mut args) }.0 as c_int
        });
    // SAFETY: `thunk` is alive for the call; the arguments match the format.
    let direct = unsafe { call_through(&thunk, c"%d %lld".as_ptr(), 4 as c_int, 5i64) };
    assert_eq!(direct, 9, "FnThunk::call with a VaList");

    let f = BareFn::with_thunk(thunk);
    // SAFETY: `f` is alive.
    let got = unsafe { var_call_many(f.bare()) };
    assert_eq!(got, MANY_SUM.0 as c_int, "a factory thunk, from C");
    drop(f);
    assert_eq!(calls.get(), 2, "both calls reached the closure");

    let mut seen = Vec::new();
    let thunk =
        <FmtFn as FnPtr>::make_mut_thunk(|(fmt, mut args): (*const c_char, VaList<'_>)| -> c_int {
            // SAFETY: the caller passes a format and its arguments.
            let (sum, count) = unsafe { sum_args(fmt, &mut args) };
            seen.push(sum);
            count
        });
    let f = BareFnMut::with_thunk(thunk);
    // SAFETY: `f` is alive.
    let got = unsafe { var_call_mixed(f.bare()) };
    assert_eq!(got, MIXED_SUM.1, "FnPtr::make_mut_thunk");
    drop(f);
    assert_eq!(seen, [MIXED_SUM.0], "the closure's state");
}
