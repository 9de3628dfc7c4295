//! `bare_hrtb!`: higher-ranked signatures as thunks of every closure family, called from
//! Rust and from C (`test-support/c/hrtb.c`); aliases with lifetime, type and const
//! parameters; an unwinding ABI; zero-sized closures; `thunk_factory`; and the signatures
//! whose `FnPtr` view pins lifetimes to `'static` (more than three bound lifetimes, bound
//! lifetimes that outlive one another).
//!
//! Run with `cargo test --features proc_macros --test macros`.

#![cfg(all(feature = "proc_macros", feature = "default_jit_alloc"))]

use std::ffi::{c_char, CStr, CString};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use closure_ffi::traits::{FnMutThunk, FnPtr, FnThunk};
use closure_ffi::{bare_hrtb, thunk_factory, BareFn, BareFnMut, BareFnOnce, BareFnSync};

// Links the C peer.
use closure_ffi_test_support as _;

bare_hrtb! {
    /// The closure-ffi 5.x test signature: the result borrows from the first argument.
    /// `&CStr` is a fat pointer, so C cannot call it; Rust can.
    #[allow(improper_ctypes_definitions)]
    type MyFn = for<'a, 'b> extern "C" fn(&'a CStr, &'b CStr) -> &'a CStr;

    /// The same shape with thin pointers, for C (`hrtb_call_pick`).
    pub type PickFn = for<'a, 'b> extern "C" fn(&'a c_char, &'b c_char) -> &'a c_char;

    /// Returns one of its arguments (`hrtb_fold`).
    pub(crate) type ChooseFn = for<'a> extern "C" fn(&'a i32, &'a i32) -> &'a i32;
}

extern "C" {
    fn hrtb_call_pick(cb: PickFn, a: *const c_char, b: *const c_char) -> *const c_char;
    fn hrtb_fold(cb: ChooseFn, items: *const i32, n: usize) -> *const i32;
}

/// Gives a closure `MyFn`'s higher-ranked signature (an annotation cannot: in
/// `|a: &CStr, b: &CStr| -> &CStr` the three lifetimes are unrelated).
fn as_my_fn<F: for<'a, 'b> Fn(&'a CStr, &'b CStr) -> &'a CStr>(f: F) -> F {
    f
}

/// The template a zero-sized closure's thunk is: `(MyFn_CC, F)`'s `Fn` template.
fn template_of<F>(_: &F) -> *const u8
where
    (MyFn_CC, F): FnThunk<MyFn>,
{
    <(MyFn_CC, F) as FnThunk<MyFn>>::THUNK_TEMPLATE
}

#[test]
fn cstr_signature_result_borrows_from_first_argument() {
    let min_len = 4;
    let longer = BareFn::<MyFn>::new(move |a, b| {
        if a.to_bytes().len() >= min_len || a.to_bytes().len() >= b.to_bytes().len() {
            a
        } else {
            c"short"
        }
    });
    let first = CString::new("hello").expect("no NUL");
    let second = CString::new("hi").expect("no NUL");
    let f: MyFn = longer.bare();
    // SAFETY: `longer` is alive.
    let got = unsafe { f(&first, &second) };
    assert!(
        std::ptr::eq(got, first.as_c_str()),
        "the result is the first argument itself"
    );
    // SAFETY: as above; the bound lifetimes are independent: `b` may be shorter-lived.
    let got = unsafe {
        let tmp = CString::new("a much longer string").expect("no NUL");
        f(c"ab", &tmp)
    };
    assert_eq!(got, c"short");

    // The marker, by name and through `cc()`.
    let same = BareFn::with_cc(MyFn::cc(), move |a: &CStr, _: &CStr| {
        let _ = min_len;
        a
    });
    let named = BareFn::<MyFn>::with_cc(MyFn_CC, |a, _| a);
    // SAFETY: both owners are alive.
    unsafe {
        assert_eq!((same.bare().0)(c"x", c"y"), c"x");
        assert_eq!(named.bare()(c"x", c"y"), c"x");
    }
}

#[test]
fn called_from_c_and_borrowing_into_the_first_argument() {
    let skip = 6;
    let suffix = BareFn::<PickFn>::new(move |a, _b| {
        // SAFETY: C passes NUL-terminated strings longer than `skip`.
        unsafe { &*std::ptr::from_ref(a).add(skip) }
    });
    let hello = CString::new("hello world").expect("no NUL");
    let other = CString::new("other").expect("no NUL");
    // SAFETY: `suffix` is alive; the callback reads inside `hello`.
    let got = unsafe { hrtb_call_pick(suffix.bare(), hello.as_ptr(), other.as_ptr()) };
    assert_eq!(got, hello.as_ptr().wrapping_add(skip), "points into `a`");
    // SAFETY: `got` points into `hello`.
    assert_eq!(unsafe { CStr::from_ptr(got) }, c"world");

    // A zero-sized closure: the template itself is the pointer C calls.
    let second = BareFn::<PickFn>::new(|a, _b| a);
    // SAFETY: `second` is alive.
    let got = unsafe { hrtb_call_pick(second.bare(), hello.as_ptr(), other.as_ptr()) };
    assert_eq!(got, hello.as_ptr());

    // The `FnPtr` view: `call` with packed arguments.
    let (a, b) = (0 as c_char, 1 as c_char);
    // SAFETY: `second` is alive.
    let got = unsafe { FnPtr::call(second.bare(), (&a, &b)) };
    assert!(std::ptr::eq(got, &a));
}

#[test]
fn fn_mut_called_from_c_folds() {
    let mut calls = 0;
    let items = [3, -7, 42, 5, 42, 0];
    let max = BareFnMut::<ChooseFn>::new(|a, b| {
        calls += 1;
        if b > a {
            b
        } else {
            a
        }
    });
    // SAFETY: `max` is alive and C calls it sequentially.
    let got = unsafe { hrtb_fold(max.bare(), items.as_ptr(), items.len()) };
    drop(max);
    assert_eq!(calls, items.len() - 1);
    assert_eq!(got, &raw const items[2], "the first maximum, by address");
}

bare_hrtb! {
    /// closure-ffi 5.x's alias with a lifetime parameter that is not higher-ranked.
    #[allow(improper_ctypes_definitions)]
    type MyFnLt<'c> = for<'a> extern "C" fn(&'c str, &'a u32) -> &'a u32;
}

#[test]
fn alias_lifetime_parameter_and_fn_mut_capturing_a_mutable_reference() {
    let text = String::from("borrowed, not static");
    let mut total_len = 0;
    let mut seen = Vec::new();
    {
        let record = BareFnMut::<MyFnLt<'_>>::new(|s, x| {
            total_len += s.len();
            seen.push(*x);
            x
        });
        let f = record.bare();
        let (one, two) = (1, 2);
        // SAFETY: `record` is alive; calls are sequential.
        unsafe {
            assert!(std::ptr::eq(f(&text, &one), &one));
            assert!(std::ptr::eq(f(&text[..8], &two), &two));
        }
    }
    assert_eq!(total_len, text.len() + 8);
    assert_eq!(seen, [1, 2]);
}

bare_hrtb! {
    /// closure-ffi 5.x's generic alias, `where` clause (with its trailing comma) first.
    #[allow(improper_ctypes_definitions)]
    pub type Lookup<T> where T: 'static + Clone, = for<'a> extern "C" fn(&'a Option<T>) -> Option<&'a T>;

    /// `T` is not under a bound lifetime, so it need not be `'static`.
    #[allow(improper_ctypes_definitions)]
    pub type Apply<T> = for<'a> extern "C" fn(&'a u8, T) -> T where T: Copy;

    /// A const parameter.
    pub type Nth<const N: usize> = for<'a> extern "C" fn(&'a [u32; N]) -> &'a u32;
}

#[test]
fn generic_alias_as_a_plain_higher_ranked_pointer() {
    let threshold = 10;
    let above = BareFn::<Lookup<u64>>::new(move |o| o.as_ref().filter(|v| **v > threshold));
    let plain: for<'a> unsafe extern "C" fn(&'a Option<u64>) -> Option<&'a u64> =
        above.bare().into();
    let (big, small) = (Some(11), Some(3));
    // SAFETY: `above` is alive.
    unsafe {
        assert!(std::ptr::eq(
            plain(&big).expect("above"),
            big.as_ref().unwrap()
        ));
        assert_eq!(plain(&small), None);
        assert_eq!(plain(&None), None);
    }
    let back: Lookup<u64> = plain.into();
    // SAFETY: as above.
    assert_eq!(unsafe { back(&big) }, Some(&11));

    let names = BareFn::<Lookup<String>>::new(|o| o.as_ref());
    let name = Some(String::from("x"));
    // SAFETY: `names` is alive.
    assert_eq!(unsafe { names.bare()(&name) }, Some(&String::from("x")));

    // A non-'static `T` where `T` is not under a bound lifetime.
    let local = String::from("local");
    let prefix = local.as_str();
    let apply = BareFn::<Apply<&str>>::new(move |n, s| if *n == 0 { prefix } else { s });
    // SAFETY: `apply` is alive.
    unsafe {
        assert_eq!(apply.bare()(&0, "arg"), "local");
        assert_eq!(apply.bare()(&1, "arg"), "arg");
    }

    let offset = 1;
    let nth = BareFn::<Nth<3>>::new(move |a| &a[offset]);
    let array = [7, 8, 9];
    // SAFETY: `nth` is alive.
    assert!(std::ptr::eq(unsafe { nth.bare()(&array) }, &array[1]));
}

bare_hrtb! {
    type Checked = for<'a> extern "C-unwind" fn(&'a u32) -> &'a u32;
}

#[test]
fn unwind_abi_lets_a_panic_reach_the_caller() {
    let limit = 100;
    let checked = BareFn::<Checked>::new(move |x| {
        assert!(*x <= limit, "{x} is over the limit");
        x
    });
    let f = checked.bare();
    let (ok, bad) = (5, 500);
    // SAFETY: `checked` is alive.
    assert!(std::ptr::eq(unsafe { f(&ok) }, &ok));
    // SAFETY: as above; "C-unwind" lets the panic unwind through the thunk.
    let caught = catch_unwind(AssertUnwindSafe(|| unsafe { f(&bad) }));
    let message = caught.expect_err("the closure panicked");
    let message = message.downcast_ref::<String>().expect("formatted message");
    assert_eq!(message, "500 is over the limit");
    // SAFETY: as above; still callable after the unwind.
    assert!(std::ptr::eq(unsafe { f(&ok) }, &ok));
}

/// Counts drops of a closure's capture.
struct DropCount(Arc<AtomicUsize>);
impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn fn_once_from_rust_and_from_c() {
    let drops = Arc::new(AtomicUsize::new(0));

    let token = DropCount(drops.clone());
    let once = BareFnOnce::<MyFn>::new(move |a, _b| {
        drop(token);
        a
    });
    // SAFETY: `once` is alive; called once.
    assert_eq!(unsafe { once.bare()(c"first", c"second") }, c"first");
    assert_eq!(drops.load(Ordering::SeqCst), 1, "consumed by the call");
    drop(once);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "not dropped again");

    // Handed to C with `into_bare`: freed during the call.
    let token = DropCount(drops.clone());
    let skip = 1;
    let bare = BareFnOnce::<PickFn>::new(move |a, _b| {
        let _ = &token;
        // SAFETY: C passes NUL-terminated strings longer than `skip`.
        unsafe { &*std::ptr::from_ref(a).add(skip) }
    })
    .into_bare();
    let (a, b) = (c"xyz", c"b");
    // SAFETY: called once.
    let got = unsafe { hrtb_call_pick(bare, a.as_ptr(), b.as_ptr()) };
    // SAFETY: `got` points into `a`.
    assert_eq!(unsafe { CStr::from_ptr(got) }, c"yz");
    assert_eq!(
        drops.load(Ordering::SeqCst),
        2,
        "the capture dropped after the call"
    );
}

#[test]
fn zero_sized_closure_is_its_template() {
    let first = as_my_fn(|a, _| a);
    let template = template_of(&first);
    let zst = BareFn::<MyFn>::new(first);
    assert_eq!(zst.bare().to_ptr(), template.cast::<()>(), "no thunk copy");
    // SAFETY: `zst` is alive.
    assert_eq!(unsafe { zst.bare()(c"a", c"b") }, c"a");

    let copy = zst.bare();
    assert_eq!(copy.to_ptr(), Clone::clone(&copy).to_ptr());
    let debug = format!("{copy:?}");
    assert!(debug.starts_with("MyFn(0x"), "{debug}");
    assert_eq!(format!("{:?}", MyFn::cc()), "MyFn_CC");
    assert_eq!(MyFn_CC, Default::default());
}

#[test]
fn thunk_factory_make_sync_around_a_mutex() {
    // closure-ffi 5.x's canonical hooking pattern: a `Mutex` around a `(CC, FnMut)` thunk,
    // exposed as a `Sync` thunk.
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let inner = Mutex::new((
        MyFn_CC,
        as_my_fn(move |a, b| {
            counter.fetch_add(1, Ordering::SeqCst);
            if a.to_bytes() >= b.to_bytes() {
                a
            } else {
                c"b wins"
            }
        }),
    ));
    let thunk = thunk_factory::make_sync::<MyFn, _>(move |args| {
        let mut inner = inner.lock().expect("not poisoned");
        // SAFETY: forwards the thunk's own call.
        unsafe { inner.call_mut(args) }
    });
    let shared = BareFnSync::<MyFn>::with_thunk(thunk);
    let f = shared.bare();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(move || {
                // SAFETY: `shared` outlives the scope; the closure is `Sync`.
                unsafe {
                    assert_eq!(f(c"z", c"a"), c"z");
                    assert_eq!(f(c"a", c"z"), c"b wins");
                }
            });
        }
    });
    assert_eq!(calls.load(Ordering::SeqCst), 8);
}

bare_hrtb! {
    /// Four bound lifetimes: the fourth is `'static` in the `FnPtr` view.
    type Four = for<'a, 'b, 'c, 'd> extern "C" fn(&'a u8, &'b u8, &'c u8, &'d u8) -> &'d u8;

    /// `'b` must outlive `'a`: it is `'static` in the `FnPtr` view.
    type FmtFn = for<'a, 'b> fn(&'a mut fmt::Formatter<'b>) -> fmt::Result;
}

#[test]
fn more_than_three_bound_lifetimes() {
    let sum = 6;
    let nth = BareFn::<Four>::new(move |a, b, c, d| {
        assert_eq!(a + b + c, sum);
        d
    });
    let f = nth.bare();
    let (w, x, y, z) = (1, 2, 3, 4);
    // SAFETY: `nth` is alive; every lifetime is independent in the pointer itself.
    assert!(std::ptr::eq(unsafe { f(&w, &x, &y, &z) }, &z));
    // The `FnPtr` view takes the fourth argument as `&'static`.
    static LAST: u8 = 9;
    // SAFETY: as above.
    let got = unsafe { FnPtr::call(f, (&w, &x, &y, &LAST)) };
    assert!(std::ptr::eq(got, &LAST));
}

/// Displays through a higher-ranked `fmt`-like pointer.
struct Show(FmtFn);
impl fmt::Display for Show {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: the owner of the thunk outlives every `Show` built in the test.
        unsafe { (self.0)(f) }
    }
}

#[test]
fn bound_lifetimes_that_outlive_one_another() {
    let name = String::from("thunk");
    let mut times = 0;
    let show = BareFnMut::<FmtFn>::new(move |f| {
        times += 1;
        write!(f, "{name}#{times}")
    });
    let f = show.bare();
    assert_eq!(Show(f).to_string(), "thunk#1");
    assert_eq!(format!("[{}]", Show(f)), "[thunk#2]");
}

bare_hrtb! {
    /// Arguments with their own binders (elision is fine there), `'static`, a bare `extern`
    /// (the C ABI) and a raw pointer.
    #[allow(improper_ctypes_definitions)]
    type Nested = for<'a> extern fn(&'a u32, fn(&u32) -> u32, &'a dyn Fn(&u32) -> u32, *const &'static str) -> u32;
}

#[test]
fn nested_binders_and_static() {
    fn double(x: &u32) -> u32 {
        x * 2
    }
    let add = 1;
    let nested = BareFn::<Nested>::new(move |x, f, g, s| {
        // SAFETY: the caller passes a valid pointer.
        let s = unsafe { *s };
        f(x) + g(x) + add + u32::try_from(s.len()).expect("short")
    });
    let square = |x: &u32| x * x;
    let text: &'static str = "four";
    // SAFETY: `nested` is alive.
    let got = unsafe { nested.bare()(&5, double, &square, &text) };
    assert_eq!(got, 10 + 25 + 1 + 4);
}

#[cfg(target_arch = "x86_64")]
mod x86_64_abis {
    use super::*;

    bare_hrtb! {
        type SysV = for<'a> extern "sysv64" fn(&'a [u8; 4], u8) -> &'a u8;
        type Win = for<'a> extern "win64-unwind" fn(&'a [u8; 4], u8) -> &'a u8;
    }

    #[test]
    fn target_specific_abis() {
        let bias = 1;
        let sysv = BareFn::<SysV>::new(move |a, i| &a[usize::from(i) + bias]);
        let win = BareFn::<Win>::new(move |a, i| &a[usize::from(i) - bias]);
        let bytes = [1, 2, 3, 4];
        // SAFETY: both owners are alive.
        unsafe {
            assert!(std::ptr::eq(sysv.bare()(&bytes, 1), &bytes[2]));
            assert!(std::ptr::eq(win.bare()(&bytes, 1), &bytes[0]));
        }
    }
}

#[cfg(target_arch = "x86")]
mod x86_abis {
    use super::*;

    bare_hrtb! {
        type Std = for<'a> extern "stdcall" fn(&'a [u8; 4], u8) -> &'a u8;
        type Fast = for<'a> extern "fastcall" fn(&'a [u8; 4], u8) -> &'a u8;
        type This = for<'a> extern "thiscall-unwind" fn(&'a [u8; 4], u8) -> &'a u8;
    }

    #[test]
    fn target_specific_abis() {
        let bias = 1;
        let std_ = BareFn::<Std>::new(move |a, i| &a[usize::from(i) + bias]);
        let fast = BareFn::<Fast>::new(move |a, i| &a[usize::from(i) - bias]);
        let this = BareFn::<This>::new(move |a, i| &a[usize::from(i) * 3 - bias]);
        let bytes = [1, 2, 3, 4];
        // SAFETY: the owners are alive.
        unsafe {
            assert!(std::ptr::eq(std_.bare()(&bytes, 1), &bytes[2]));
            assert!(std::ptr::eq(fast.bare()(&bytes, 1), &bytes[0]));
            assert!(std::ptr::eq(this.bare()(&bytes, 1), &bytes[2]));
        }
    }
}

/// Signatures that need each kind of `FnPtr` view; declaring them is the check (their
/// `FnPtr` impls would not compile with a wrong plan). See `closure-ffi-macros/src/lifetimes.rs`.
mod plans {
    use closure_ffi::bare_hrtb;
    use std::borrow::Cow;

    pub trait Trait<X> {
        fn get(&self) -> X;
    }

    bare_hrtb! {
        /// `'c: 'a` for every `'a`: the `FnPtr` impl requires `'c: 'static`.
        pub type AliasUnderBound<'c> = for<'a> fn(&'a &'c u8) -> u8;
        /// `'a: 'c`: `'a` is `'static` in the view.
        pub type BoundUnderAlias<'c> = for<'a> fn(&'c &'a u8) -> u8;
        /// `T` under `'a` in a path: `T: 'static` (conservatively).
        pub type Cowed<T> = for<'a> fn(Cow<'a, [T]>) -> usize where T: Clone;
        /// `T` under `'a` through a trait object: `T: 'static`.
        pub type Object<T> = for<'a> fn(&'a dyn Trait<T>) -> T;
        /// `T` in a trait object bounded by `'a` but not behind a reference: any `T`.
        pub type Boxed<T> = for<'a> fn(&'a u8, Box<dyn Trait<T> + 'a>) -> T;
        /// A nested binder's own implied bounds (`'a: 'x`) need nothing.
        pub type InnerBinder = for<'a> fn(&'a u8, for<'x> fn(&'x &'a u8) -> u8) -> u8;
        /// An associated type under `'a`: `T: 'static`.
        pub type Assoc<T> where T: Iterator<Item = u8> = for<'a> fn(&'a T::Item) -> u8;
        /// `'b` must outlive `'a` and `'e` is the fifth: both `'static`.
        pub type Five = for<'a, 'b, 'c, 'd, 'e> fn(&'a &'b u8, &'c u8, &'d u8, &'e u8) -> u8;

        /// A default type parameter (dropped in the impls' parameter lists).
        pub type Defaulted<T = u8> = for<'a> fn(&'a u8, T) -> T;

        /// Never compiled (it names a type that does not exist): `#[cfg]` applies to every
        /// generated item.
        #[cfg(any())]
        pub type Absent = for<'a> fn(&'a DoesNotExist) -> u8;
    }
}

#[test]
fn plans_of_the_fn_ptr_view() {
    struct Value<X>(X);
    impl<X: Copy> plans::Trait<X> for Value<X> {
        fn get(&self) -> X {
            self.0
        }
    }

    // `T = &'x u8` is not `'static`: fine, `T` is not under a bound lifetime.
    let local = 7u8;
    let boxed = BareFn::<plans::Boxed<&u8>>::new(|a, t| {
        assert_eq!(*a, 1);
        t.get()
    });
    // SAFETY: `boxed` is alive.
    let got = unsafe { boxed.bare()(&1, Box::new(Value(&local))) };
    assert!(std::ptr::eq(got, &local));

    let object = BareFn::<plans::Object<u32>>::new(|t| t.get() + 1);
    // SAFETY: `object` is alive.
    assert_eq!(unsafe { object.bare()(&Value(41)) }, 42);

    let inner = BareFn::<plans::InnerBinder>::new(|a, f| f(&a));
    // SAFETY: `inner` is alive.
    assert_eq!(unsafe { inner.bare()(&3, |x| **x * 2) }, 6);

    let defaulted = BareFn::<plans::Defaulted>::new(|a, t| a + t);
    // SAFETY: `defaulted` is alive.
    assert_eq!(unsafe { defaulted.bare()(&1, 2) }, 3);

    let five = BareFn::<plans::Five>::new(|a, c, d, e| **a + c + d + e);
    let (b, x) = (1, 2);
    // SAFETY: `five` is alive.
    assert_eq!(unsafe { five.bare()(&&b, &x, &x, &x) }, 7);
}
