//! Ownership and memory: `BareFnMut` state across calls, `BareFnOnce` (called, never called,
//! `into_bare`), `leak`, untyped forms, `upcast`, custom and failing `JitAlloc`s, a C callback
//! registry without user data, and `thunk_factory::make_sync` around a `Mutex`.

#![cfg(feature = "default_jit_alloc")]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

use closure_ffi::jit_alloc::PoolJitAlloc;
use closure_ffi::traits::{Any, FnMutThunk, FnPtr};
use closure_ffi::{
    cc, thunk_factory, BareFn, BareFnAny, BareFnMut, BareFnOnce, BareFnSync, GlobalJitAlloc,
    JitAllocError, ThunkError, UntypedBareFn,
};
use closure_ffi_test_support::{peer_call_n, peer_fire, peer_register, peer_unregister};
use common::{AllocCounters, CountingAlloc, DropCounter, FailingAlloc};

type U32Fn = unsafe extern "C" fn(u32) -> u32;

/// A counting allocator over the global one, with its own counters.
fn counting_global(counters: &'static AllocCounters) -> CountingAlloc<GlobalJitAlloc> {
    CountingAlloc {
        inner: GlobalJitAlloc,
        counters,
    }
}

#[test]
fn fn_mut_state_persists_across_calls() {
    let mut total = 0i64;
    let mut history = Vec::new();
    let f = BareFnMut::new_c(|x: i64| -> i64 {
        total += x;
        history.push(x);
        total
    });
    let bare: unsafe extern "C" fn(i64) -> i64 = f.bare();
    // SAFETY: `f` is alive; calls are sequential.
    unsafe {
        assert_eq!(bare(5), 5, "first call: running total");
        assert_eq!(bare(-2), 3, "second call sees the first call's state");
    }

    // From C: `peer_call_n` calls cb(0), cb(1), ..., cb(n - 1) and sums the results.
    let n = 6;
    let mut model = 3i64;
    let want: i64 = (0..n)
        .map(|i| {
            model += i;
            model
        })
        .sum();
    // SAFETY: `f` is alive; C calls it sequentially.
    let got = unsafe { peer_call_n(bare, n) };
    assert_eq!(
        got, want,
        "sum of the running totals returned to peer_call_n"
    );
    // SAFETY: as above.
    assert_eq!(unsafe { bare(100) }, model + 100, "state after the C calls");
    drop(f);

    assert_eq!(total, model + 100, "final captured state");
    let mut want_history = vec![5, -2];
    want_history.extend(0..n);
    want_history.push(100);
    assert_eq!(history, want_history, "every argument, in call order");
}

#[test]
fn fn_once_called_drops_captures_once_after_the_call() {
    let counter = DropCounter::new();
    let token = counter.token();
    let observer = counter.clone();
    let f = BareFnOnce::new_c(move |x: u32| -> u32 {
        let _ = token.touch();
        // Report how many drops happened before the body ran (must be none).
        x * 10 + observer.drops() as u32
    });
    assert_eq!(counter.drops(), 0, "creating the thunk drops nothing");
    let bare: U32Fn = f.bare();
    // SAFETY: `f` is alive and this is the only call.
    let got = unsafe { bare(4) };
    assert_eq!(got, 40, "the captures were still alive while the body ran");
    assert_eq!(
        counter.drops(),
        1,
        "the call consumed the closure: captures dropped once"
    );
    drop(f);
    assert_eq!(
        counter.drops(),
        1,
        "dropping the called BareFnOnce must not drop again"
    );
}

#[test]
fn fn_once_never_called_drops_captures_once() {
    let counter = DropCounter::new();
    let token = counter.token();
    let f = BareFnOnce::new_c(move |x: u32| -> u32 { x + token.touch() as u32 });
    let _ = f.bare();
    assert_eq!(counter.drops(), 0, "nothing dropped while the owner lives");
    drop(f);
    assert_eq!(
        counter.drops(),
        1,
        "an uncalled BareFnOnce drops its closure once"
    );
}

#[test]
fn fn_once_into_bare_releases_closure_and_memory_during_the_call() {
    static COUNTERS: AllocCounters = AllocCounters::new();
    static RELEASES_SEEN_BY_BODY: AtomicUsize = AtomicUsize::new(usize::MAX);

    let counter = DropCounter::new();
    let token = counter.token();
    let observer = counter.clone();
    let f = BareFnOnce::new_c_in(
        move |x: u32| -> u32 {
            let _ = token.touch();
            RELEASES_SEEN_BY_BODY.store(COUNTERS.releases(), Ordering::SeqCst);
            x + observer.drops() as u32
        },
        counting_global(&COUNTERS),
    );
    assert_eq!(COUNTERS.allocs(), 1, "one allocation for the thunk");
    assert_eq!(COUNTERS.releases(), 0, "nothing released yet");
    let thunk_rx = COUNTERS.last_rx.load(Ordering::SeqCst);

    let bare: U32Fn = f.into_bare();
    assert_eq!(
        COUNTERS.releases(),
        0,
        "into_bare releases nothing before the call"
    );
    assert_eq!(
        counter.drops(),
        0,
        "into_bare drops nothing before the call"
    );

    // SAFETY: the single call of an `into_bare` pointer.
    let got = unsafe { bare(7) };
    assert_eq!(got, 7, "the captures were alive while the body ran");
    assert_eq!(
        RELEASES_SEEN_BY_BODY.load(Ordering::SeqCst),
        1,
        "the executable memory is released before the closure body runs (documented)"
    );
    assert_eq!(
        COUNTERS.releases(),
        1,
        "the thunk memory was released exactly once"
    );
    assert_eq!(
        COUNTERS.last_released.load(Ordering::SeqCst),
        thunk_rx,
        "the released block is the thunk's"
    );
    assert_eq!(counter.drops(), 1, "the closure was dropped exactly once");
}

#[test]
fn leak_keeps_closure_and_memory_alive() {
    static COUNTERS: AllocCounters = AllocCounters::new();
    let counter = DropCounter::new();

    let token = counter.token();
    let f: BareFn<'static, U32Fn, _> = BareFn::new_c_in(
        move |x: u32| x + token.touch() as u32,
        counting_global(&COUNTERS),
    );
    let bare = f.leak();
    // SAFETY: a leaked thunk stays valid forever. `touch` is 2 (the token and `counter`).
    assert_eq!(unsafe { bare(40) }, 42, "a leaked BareFn still works");

    let token = counter.token();
    let mut calls = 0u32;
    let f: BareFnMut<'static, U32Fn, _> = BareFnMut::new_c_in(
        move |x: u32| {
            let _ = token.touch();
            calls += 1;
            x * calls
        },
        counting_global(&COUNTERS),
    );
    let raw = f.into_untyped().leak();
    // SAFETY: `raw` is the leaked thunk of an `unsafe extern "C" fn(u32) -> u32`.
    let bare = unsafe { U32Fn::from_ptr(raw) };
    // SAFETY: a leaked thunk stays valid forever; calls are sequential.
    unsafe {
        assert_eq!(bare(5), 5, "leaked untyped BareFnMut, call 1");
        assert_eq!(
            bare(5),
            10,
            "leaked untyped BareFnMut keeps its state, call 2"
        );
    }

    assert_eq!(counter.drops(), 0, "leaked closures are never dropped");
    assert_eq!(COUNTERS.allocs(), 2, "two thunks allocated");
    assert_eq!(
        COUNTERS.releases(),
        0,
        "leaked thunk memory is never released"
    );
}

#[test]
fn into_untyped_then_call_through_transmuted_pointer() {
    let counter = DropCounter::new();

    let token = counter.token();
    let f = BareFn::new_c(move |x: u32| x * 3 + token.touch() as u32);
    let typed_ptr = f.bare().to_ptr();
    let untyped: UntypedBareFn<dyn Any> = f.into_untyped();
    assert_eq!(
        untyped.bare(),
        typed_ptr,
        "into_untyped keeps the same thunk"
    );
    // SAFETY: the untyped thunk was created for exactly this signature.
    let bare = unsafe { std::mem::transmute::<*const (), U32Fn>(untyped.bare()) };
    // SAFETY: `untyped` is alive. `touch` is 2 (the token and `counter`).
    let got = unsafe { bare(10) };
    assert_eq!(got, 32, "UntypedBareFn called after transmuting back");
    drop(untyped);
    assert_eq!(counter.drops(), 1, "UntypedBareFn drops its closure once");

    let token = counter.token();
    let mut n = 0;
    let f = BareFnMut::new_c(move |x: u32| {
        let _ = token.touch();
        n += 1;
        x + n
    });
    let untyped = f.into_untyped();
    // SAFETY: the untyped thunk was created for exactly this signature.
    let bare = unsafe { std::mem::transmute::<*const (), U32Fn>(untyped.bare()) };
    // SAFETY: `untyped` is alive; calls are sequential.
    unsafe {
        assert_eq!(bare(10), 11, "UntypedBareFnMut call 1");
        assert_eq!(bare(10), 12, "UntypedBareFnMut call 2 sees the state");
    }
    drop(untyped);
    assert_eq!(
        counter.drops(),
        2,
        "UntypedBareFnMut drops its closure once"
    );

    let token = counter.token();
    let f = BareFnOnce::new_c(move |x: u32| x + token.touch() as u32);
    let untyped = f.into_untyped();
    // SAFETY: the untyped thunk was created for exactly this signature.
    let bare = unsafe { std::mem::transmute::<*const (), U32Fn>(untyped.bare()) };
    // SAFETY: `untyped` is alive; this is the only call.
    assert_eq!(unsafe { bare(1) }, 3, "UntypedBareFnOnce called once");
    assert_eq!(counter.drops(), 3, "the call consumed the FnOnce closure");
    drop(untyped);
    assert_eq!(
        counter.drops(),
        3,
        "dropping the called UntypedBareFnOnce drops nothing"
    );
}

#[test]
fn upcast_sync_to_send_to_untyped_any() {
    let counter = DropCounter::new();
    let token = counter.token();
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let calls2 = calls.clone();
    let f = BareFnSync::new_c(move |x: u32| -> u32 {
        calls2.fetch_add(1, Ordering::SeqCst);
        x + token.touch() as u32
    });
    let ptr = f.bare().to_ptr();
    // SAFETY: `f` is alive. `touch` is 2 (the token and `counter`).
    assert_eq!(unsafe { f.bare()(1) }, 3, "BareFnSync call");

    let send: BareFnAny<U32Fn, dyn Send> = f.upcast();
    assert_eq!(send.bare().to_ptr(), ptr, "upcast keeps the same thunk");
    // SAFETY: `send` is alive.
    assert_eq!(unsafe { send.bare()(2) }, 4, "BareFnAny<_, dyn Send> call");
    assert_eq!(counter.drops(), 0, "upcast drops nothing");

    let any: UntypedBareFn<dyn Any> = send.into();
    assert_eq!(any.bare(), ptr, "into() keeps the same thunk");
    // SAFETY: the thunk was created for exactly this signature.
    let bare = unsafe { U32Fn::from_ptr(any.bare()) };
    // SAFETY: `any` is alive.
    assert_eq!(unsafe { bare(3) }, 5, "UntypedBareFn<dyn Any> call");
    assert_eq!(counter.drops(), 0, "into() drops nothing");

    drop(any);
    assert_eq!(
        counter.drops(),
        1,
        "the closure is dropped once, by the last owner"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "three calls reached the closure"
    );
}

static POOL_DUAL: LazyLock<PoolJitAlloc> = LazyLock::new(|| PoolJitAlloc::with_dual_mapping(true));
static POOL_SINGLE: LazyLock<PoolJitAlloc> =
    LazyLock::new(|| PoolJitAlloc::with_dual_mapping(false));

/// Creates, calls and drops thunks of all three families in `alloc`, checking what the
/// allocator saw.
fn exercise_custom_alloc(alloc: CountingAlloc<&'static PoolJitAlloc>, what: &str) {
    let c = alloc.counters;
    let in_last_block = |ptr: *const ()| {
        let rx = c.last_rx.load(Ordering::SeqCst);
        let size = c.last_size.load(Ordering::SeqCst);
        (rx..rx + size).contains(&(ptr as usize))
    };

    let k = 1000u32;
    let f = BareFn::new_c_in(move |x: u32| x + k, alloc);
    assert_eq!(c.allocs(), 1, "{what}: BareFn allocated once");
    assert!(
        in_last_block(f.bare().to_ptr()),
        "{what}: thunk lies in the rx block"
    );
    let mut n = 0;
    let g = BareFnMut::new_c_in(
        |x: u32| {
            n += x;
            n
        },
        alloc,
    );
    assert!(
        in_last_block(g.bare().to_ptr()),
        "{what}: thunk lies in the rx block"
    );
    let label = String::from("once");
    let h = BareFnOnce::new_c_in(move |x: u32| x + label.len() as u32, alloc);
    assert!(
        in_last_block(h.bare().to_ptr()),
        "{what}: thunk lies in the rx block"
    );
    assert_eq!(c.allocs(), 3, "{what}: one allocation per capturing thunk");
    assert_eq!(
        c.protect_rw.load(Ordering::SeqCst),
        3,
        "{what}: ReadWrite per thunk"
    );
    assert_eq!(
        c.protect_rx.load(Ordering::SeqCst),
        3,
        "{what}: ReadExecute per thunk"
    );
    assert_eq!(
        c.flushes.load(Ordering::SeqCst),
        3,
        "{what}: I-cache flush per thunk"
    );

    // SAFETY: the owners are alive; `g` is called sequentially; `h` once.
    unsafe {
        assert_eq!(f.bare()(1), 1001, "{what}: BareFn call");
        assert_eq!(g.bare()(5), 5, "{what}: BareFnMut call 1");
        assert_eq!(g.bare()(6), 11, "{what}: BareFnMut call 2");
        assert_eq!(h.bare()(1), 5, "{what}: BareFnOnce call");
    }

    // A zero-sized closure allocates nothing.
    let z = BareFn::new_c_in(|x: u32| x ^ 0xFF, alloc);
    // SAFETY: `z` is alive.
    assert_eq!(unsafe { z.bare()(0xF0) }, 0x0F, "{what}: ZST thunk call");
    assert_eq!(
        c.allocs(),
        3,
        "{what}: a zero-sized closure needs no executable memory"
    );

    drop((f, g, h, z));
    assert_eq!(
        c.releases(),
        3,
        "{what}: every allocation released once on drop"
    );
}

#[test]
fn custom_jit_alloc_dual_mapping() {
    static COUNTERS: AllocCounters = AllocCounters::new();
    exercise_custom_alloc(
        CountingAlloc {
            inner: &*POOL_DUAL,
            counters: &COUNTERS,
        },
        "PoolJitAlloc::with_dual_mapping(true)",
    );
}

#[test]
fn custom_jit_alloc_single_mapping() {
    static COUNTERS: AllocCounters = AllocCounters::new();
    exercise_custom_alloc(
        CountingAlloc {
            inner: &*POOL_SINGLE,
            counters: &COUNTERS,
        },
        "PoolJitAlloc::with_dual_mapping(false)",
    );
}

#[test]
fn failing_alloc_returns_error_and_drops_closure_once() {
    let counter = DropCounter::new();

    let token = counter.token();
    let r = BareFn::<U32Fn, FailingAlloc>::try_new_c_in(
        move |x: u32| x + token.touch() as u32,
        FailingAlloc,
    );
    assert!(
        matches!(r, Err(ThunkError::Alloc(JitAllocError))),
        "BareFn::try_new_c_in: expected Err(ThunkError::Alloc(_)), got {r:?}"
    );
    assert_eq!(
        counter.drops(),
        1,
        "BareFn: the rejected closure is dropped exactly once"
    );

    let token = counter.token();
    let r = BareFnMut::<U32Fn, FailingAlloc>::try_new_c_in(
        move |x: u32| x + token.touch() as u32,
        FailingAlloc,
    );
    assert!(
        matches!(r, Err(ThunkError::Alloc(_))),
        "BareFnMut::try_new_c_in: {r:?}"
    );
    assert_eq!(
        counter.drops(),
        2,
        "BareFnMut: the rejected closure is dropped once"
    );

    let token = counter.token();
    let r = BareFnOnce::<U32Fn, FailingAlloc>::try_with_cc_in(
        cc::C,
        move |x: u32| x + token.touch() as u32,
        FailingAlloc,
    );
    assert!(
        matches!(r, Err(ThunkError::Alloc(_))),
        "BareFnOnce::try_with_cc_in: {r:?}"
    );
    assert_eq!(
        counter.drops(),
        3,
        "BareFnOnce: the rejected closure is dropped once"
    );

    // The panicking form states the reason, and does not leak or double-drop either.
    let token = counter.token();
    let panic = catch_unwind(AssertUnwindSafe(|| {
        BareFn::<U32Fn, FailingAlloc>::new_c_in(
            move |x: u32| x + token.touch() as u32,
            FailingAlloc,
        )
    }))
    .expect_err("new_c_in must panic when the allocator fails");
    let msg = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        msg.contains("executable memory allocation failed"),
        "the panic message should state the reason, got {msg:?}"
    );
    assert_eq!(
        counter.drops(),
        4,
        "new_c_in: the rejected closure is dropped once"
    );

    // A zero-sized closure needs no allocation, so even a failing allocator works.
    let z = BareFn::<U32Fn, FailingAlloc>::try_new_c_in(|x: u32| x + 1, FailingAlloc)
        .expect("a zero-sized closure does not allocate");
    // SAFETY: `z` is alive.
    let got = unsafe { z.bare()(1) };
    assert_eq!(got, 2, "ZST thunk with a failing allocator");
}

#[test]
fn c_registry_without_user_data() {
    let (k1, k2) = (3i32, 1000i32);
    let times = BareFn::new_c(move |event: i32| -> i32 { event * k1 });
    let plus = BareFn::new_c(move |event: i32| -> i32 { event + k2 });

    // SAFETY: the owners outlive their registration (unregistered below).
    let (s1, s2) = unsafe { (peer_register(times.bare()), peer_register(plus.bare())) };
    assert!(
        s1 >= 0 && s2 >= 0 && s1 != s2,
        "registration slots: {s1}, {s2}"
    );

    // SAFETY: every registered callback is alive.
    assert_eq!(unsafe { peer_fire(10) }, 30 + 1010, "both callbacks fired");
    // SAFETY: as above.
    let got = unsafe { peer_fire(-4) };
    assert_eq!(got, -12 + 996, "both callbacks fired again");

    // SAFETY: `s1` is our slot.
    unsafe { peer_unregister(s1) };
    drop(times);
    // SAFETY: `plus` is still registered and alive.
    let got = unsafe { peer_fire(10) };
    assert_eq!(got, 1010, "only the remaining callback fired");

    // SAFETY: `s2` is our slot.
    unsafe { peer_unregister(s2) };
    drop(plus);
    // SAFETY: nothing of ours is registered any more.
    assert_eq!(unsafe { peer_fire(10) }, 0, "no callbacks left");
}

#[test]
fn make_sync_around_a_mutex_of_an_fn_mut_thunk() {
    type B = unsafe extern "C" fn(u64) -> u64;
    const THREADS: u64 = 4;
    const CALLS: u64 = 500;

    let mut total = 0u64;
    {
        let total = &mut total;
        // An `FnMut` closure with its calling-convention marker, as `FnMutThunk` wants it.
        let state = Mutex::new((cc::C, move |x: u64| -> u64 {
            *total += x;
            *total
        }));
        let thunk = thunk_factory::make_sync::<B, _>(move |args: (u64,)| -> u64 {
            let mut guard = state.lock().expect("poisoned");
            // SAFETY: the mutex gives exclusive access to the `FnMut` closure.
            unsafe { FnMutThunk::<B>::call_mut(&mut *guard, args) }
        });
        let f = BareFnSync::with_thunk(thunk);
        let bare: B = f.bare();

        let mut returned: Vec<u64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|_| {
                    s.spawn(move || {
                        // SAFETY: `f` outlives the scope; the mutex serializes the calls.
                        (0..CALLS).map(|_| unsafe { bare(1) }).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("thread panicked"))
                .collect()
        });
        returned.sort_unstable();
        let want: Vec<u64> = (1..=THREADS * CALLS).collect();
        assert_eq!(
            returned, want,
            "every running total is returned exactly once: the calls were serialized"
        );
    }
    assert_eq!(total, THREADS * CALLS, "final total");
}

#[test]
fn fn_once_zero_sized_closure_with_drop_glue() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct ZstDrop;
    impl Drop for ZstDrop {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    static COUNTERS: AllocCounters = AllocCounters::new();

    // Zero-sized, but with drop glue: it must not be conjured (that would drop it twice).
    let z = ZstDrop;
    let closure = move |x: u32| -> u32 {
        let _z = &z;
        x + 1 + DROPS.load(Ordering::SeqCst) as u32 * 100
    };
    assert_eq!(
        std::mem::size_of_val(&closure),
        0,
        "the closure is zero-sized"
    );
    let f = BareFnOnce::new_c_in(closure, counting_global(&COUNTERS));
    let bare: U32Fn = f.bare();
    // SAFETY: `f` is alive; its only call.
    let got = unsafe { bare(1) };
    assert_eq!(
        got, 2,
        "the capture was alive (not yet dropped) during the call"
    );
    assert_eq!(
        DROPS.load(Ordering::SeqCst),
        1,
        "the call dropped the capture once"
    );
    drop(f);
    assert_eq!(
        DROPS.load(Ordering::SeqCst),
        1,
        "the owner did not drop it again"
    );

    let z = ZstDrop;
    let f = BareFnOnce::new_c_in(
        move |x: u32| -> u32 {
            let _z = &z;
            x
        },
        counting_global(&COUNTERS),
    );
    drop(f);
    assert_eq!(
        DROPS.load(Ordering::SeqCst),
        2,
        "never called: dropped once by the owner"
    );
    assert_eq!(COUNTERS.live(), 0, "every thunk memory block was released");
}

#[test]
fn fn_once_zero_sized_closure_without_drop_glue() {
    static COUNTERS: AllocCounters = AllocCounters::new();
    let f: BareFnOnce<U32Fn, _> = BareFnOnce::new_c_in(|x: u32| x * 2, counting_global(&COUNTERS));
    let bare = f.bare();
    // SAFETY: `f` is alive. A zero-sized closure without drop glue is conjured on every
    // call, so a second call is allowed (documented on `BareFnOnce::bare`).
    let (a, b) = unsafe { (bare(2), bare(3)) };
    assert_eq!((a, b), (4, 6), "a conjured FnOnce ZST can be called again");
    drop(f);

    let f: BareFnOnce<U32Fn, _> = BareFnOnce::new_c_in(|x: u32| x + 5, counting_global(&COUNTERS));
    let bare = f.into_bare();
    // SAFETY: the `into_bare` pointer of a zero-sized closure: the template itself.
    let got = unsafe { bare(1) };
    assert_eq!(got, 6, "into_bare of a zero-sized closure");
    assert_eq!(
        COUNTERS.allocs(),
        0,
        "zero-sized closures allocate no executable memory"
    );
}

/// On Arm a copy needs 4-byte alignment (instructions, and T32's `Align(PC, 4)` literal
/// loads): a misaligned block is given back and the thunk refused, never run.
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
#[test]
fn misaligned_jit_memory_is_refused_on_arm() {
    let alloc = common::MisalignedAlloc::new(&*POOL_SINGLE);
    let k = std::hint::black_box(5u32);
    let made = BareFn::<U32Fn, _>::try_new_c_in(move |x: u32| x + k, &alloc);
    assert_eq!(made.err(), Some(ThunkError::Alloc(JitAllocError)));
    assert_eq!(alloc.releases.load(Ordering::Relaxed), 1);
}
