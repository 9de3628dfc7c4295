//! Stress: 8 threads creating, calling and dropping static thunks and dynamic closures at
//! once; one shared `BareFnSync` and shared dynamic closures called from every thread, with
//! exact call counts; thunks and closures created on one thread, called and dropped on
//! another (a ring of threads); and resident memory that stays flat over a million
//! create/drop cycles of each layer.
//!
//! Calls go through C (test-support's callers, `peer_call_n`, the dynamic checkers and
//! `dyn_call_raw`) wherever a C caller exists, so that real native code calls the thunks.
//! Every result is checked. The work is bounded by iteration counts, never by time:
//! `STRESS_ITERS` (iterations per thread, default [`DEFAULT_ITERS`]) and `STRESS_RSS_CYCLES`
//! (create/drop cycles per layer in the memory test) scale it; `scripts/stress` runs this
//! file in release with large counts.
//!
//! The tests of this file run one at a time ([`serial`]): each already keeps 8 threads
//! busy, and the memory test must not see the others' allocations.
//!
//! The dynamic layer exists on x86_64 only; on i686 the static half runs alone.

#![cfg(feature = "default_jit_alloc")]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Barrier, Mutex, MutexGuard, PoisonError};
use std::thread;

use closure_ffi::{BareFn, BareFnMut, BareFnMutSync, BareFnOnce, BareFnOnceSync, BareFnSync};
use closure_ffi_test_support::callers::{call_c_1, call_c_3, call_c_large};
use closure_ffi_test_support::{peer_call_n, Large};
use common::{
    arg_bits, arg_values, call_wide_from_c, checksum, large_expected, large_input, wide_thunk,
    Bits, DropCounter,
};

const THREADS: usize = 8;
/// Iterations per thread without `STRESS_ITERS`: a few seconds in a debug build on 2 cores.
const DEFAULT_ITERS: u64 = 1500;

/// `STRESS_ITERS`, or [`DEFAULT_ITERS`].
fn iters() -> u64 {
    env_count("STRESS_ITERS", DEFAULT_ITERS)
}

/// The number in environment variable `name`, or `default` when it is unset.
fn env_count(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
        Err(_) => default,
    }
}

/// Held by every test of this file, so that they run one after another.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A capture of 160 bytes: larger than the biggest recycled closure block (128 bytes), so
/// closures holding one are boxed.
type BigCapture = [u64; 20];

fn big_capture(salt: u64) -> BigCapture {
    core::array::from_fn(|j| salt.rotate_left(j as u32) ^ j as u64)
}

/// A value that depends on every word of `big`.
fn big_mix(big: &BigCapture) -> i64 {
    checksum(0, big) as i64
}

/// What `peer_call_n(cb, n)` returns for `cb(x) = x ^ salt`.
fn xor_sum(n: i64, salt: i64) -> i64 {
    (0..n).map(|x| x ^ salt).fold(0i64, i64::wrapping_add)
}

// ---- the static layer ----------------------------------------------------------------------

/// One iteration of static churn on thread `t`: every family, several arities and capture
/// sizes, each thunk called from C and checked, then dropped (or freed by its own call).
fn static_iteration(t: u64, i: u64, drops: &DropCounter) {
    let salt = (t << 40) | i;
    let v = arg_values();
    let bits = arg_bits();

    // BareFn, 3 arguments, a small capture.
    let f = BareFn::new_c(move |a0: i8, a1: u16, a2: i32| -> u64 {
        checksum(salt, &[a0.bits(), a1.bits(), a2.bits()])
    });
    // SAFETY: `f` is alive; the arguments match its signature.
    let got = unsafe { call_c_3(f.bare(), v.0, v.1, v.2) };
    assert_eq!(
        got,
        checksum(salt, &bits[..3]),
        "thread {t} iteration {i}: BareFn"
    );
    drop(f);

    // BareFnMut, called n times by C, counting its calls in a captured reference.
    let n = (i % 7 + 1) as i64;
    let mut seen = 0i64;
    let g = BareFnMut::new_c(|x: i64| -> i64 {
        seen += 1;
        x ^ salt as i64
    });
    // SAFETY: `g` is alive; C calls it sequentially on this thread.
    let got = unsafe { peer_call_n(g.bare(), n) };
    drop(g);
    assert_eq!(
        got,
        xor_sum(n, salt as i64),
        "thread {t} iteration {i}: BareFnMut"
    );
    assert_eq!(seen, n, "thread {t} iteration {i}: BareFnMut calls");

    // BareFnOnce through bare(), with a heap capture, called once and then dropped.
    let label = format!("{t}:{i}");
    let token = drops.token();
    let h = BareFnOnce::new_c(move |a: i8| -> u64 {
        let _ = token.touch();
        label.len() as u64 ^ a.bits() ^ salt
    });
    // SAFETY: `h` is alive and called once.
    let got = unsafe { call_c_1(h.bare(), v.0) };
    drop(h);
    let want = format!("{t}:{i}").len() as u64 ^ v.0.bits() ^ salt;
    assert_eq!(got, want, "thread {t} iteration {i}: BareFnOnce::bare");

    // BareFnOnce through into_bare(): the single call frees closure and code. Every other
    // one holds a big capture (a boxed closure).
    let token = drops.token();
    let once: unsafe extern "C" fn(i8) -> u64 = if i % 2 == 0 {
        let big = big_capture(salt);
        BareFnOnce::new_c(move |a: i8| -> u64 {
            let _ = token.touch();
            big_mix(&big) as u64 ^ a.bits()
        })
        .into_bare()
    } else {
        BareFnOnce::new_c(move |a: i8| -> u64 {
            let _ = token.touch();
            salt.wrapping_mul(3) ^ a.bits()
        })
        .into_bare()
    };
    // SAFETY: the single call of an `into_bare` pointer.
    let got = unsafe { call_c_1(once, v.0) };
    let want = if i % 2 == 0 {
        big_mix(&big_capture(salt)) as u64 ^ v.0.bits()
    } else {
        salt.wrapping_mul(3) ^ v.0.bits()
    };
    assert_eq!(got, want, "thread {t} iteration {i}: BareFnOnce::into_bare");

    // A struct passed and returned in memory, with a 160-byte capture.
    let big = big_capture(salt);
    let l = BareFn::new_c(move |x: Large, k: u8| -> Large { large_expected(x, k, big_mix(&big)) });
    let k = i as u8;
    // SAFETY: `l` is alive; the arguments match its signature.
    let got = unsafe { call_c_large(l.bare(), large_input(), k) };
    drop(l);
    let want = large_expected(large_input(), k, big_mix(&big_capture(salt)));
    assert_eq!(
        got, want,
        "thread {t} iteration {i}: Large with a big capture"
    );

    // Every 16th iteration: the widest signature, with a big capture.
    if i % 16 == 0 {
        let big = big_capture(salt);
        let w = wide_thunk(move || big_mix(&big) as u64);
        // SAFETY: `w` is alive and has the `Wide` signature.
        let got = unsafe { call_wide_from_c(w.bare()) };
        let want = checksum(big_mix(&big_capture(salt)) as u64, &bits);
        assert_eq!(got, want, "thread {t} iteration {i}: 12 arguments");
    }
}

// ---- the dynamic layer (x86_64) ------------------------------------------------------------

#[cfg(target_arch = "x86_64")]
mod dynamic {
    //! Dynamic closures of every kind, in both conventions, interpreted and compiled.

    use core::ffi::c_void;
    use std::sync::atomic::{AtomicU64, Ordering};

    use closure_ffi::dynamic::{Abi, Args, Cif, Closure, RawClosure, Ret, Type, TypedClosure};
    use closure_ffi_test_support::dynamic::{self as c, CallRaw, Check, DynDifb};

    /// The four ways a closure runs: System V and Win64, interpreted and compiled.
    pub struct Modes {
        /// `uint64_t (uint64_t)` Cifs, one per mode, and `dyn_call_raw` of the mode's ABI.
        pub u64_u64: [(Cif, CallRaw); 4],
        /// `int32_t (int32_t, int32_t)` Cifs and `dyn_check_sub_i32` of the mode's ABI.
        pub i32_i32: [(Cif, Check); 4],
    }

    fn prepared(abi: Abi, compiled: bool, args: Vec<Type>, ret: Type) -> Cif {
        let mut cif = Cif::new(abi, args, ret).expect("a valid signature");
        if compiled {
            cif.compile().expect("JIT memory");
        }
        cif
    }

    impl Modes {
        pub fn new() -> Self {
            let modes = [
                (Abi::SysV64, false),
                (Abi::SysV64, true),
                (Abi::Win64, false),
                (Abi::Win64, true),
            ];
            let suite = |abi| {
                if abi == Abi::SysV64 {
                    c::sysv()
                } else {
                    c::win64()
                }
            };
            Self {
                u64_u64: modes.map(|(abi, compiled)| {
                    (
                        prepared(abi, compiled, vec![Type::U64], Type::U64),
                        suite(abi).call_raw,
                    )
                }),
                i32_i32: modes.map(|(abi, compiled)| {
                    (
                        prepared(abi, compiled, vec![Type::I32, Type::I32], Type::I32),
                        suite(abi).sub_i32.check,
                    )
                }),
            }
        }
    }

    /// `x ^ salt` for a `uint64_t (uint64_t)` closure. A failed read or store returns a value
    /// that the caller's check rejects (a panic would abort: it cannot unwind through C).
    pub fn xor(salt: u64) -> impl Fn(&Args<'_>, Ret<'_>) + Send + Sync + Clone {
        move |args: &Args<'_>, ret: Ret<'_>| {
            let x = args.get::<u64>(0).unwrap_or(!salt);
            let _ = ret.set(x ^ salt);
        }
    }

    /// `a - b` for `int32_t (int32_t, int32_t)`, libffi style, counting calls in the
    /// `AtomicU64` that `user_data` points at.
    ///
    /// # Safety
    /// Called by a closure of that signature whose user data is a live `AtomicU64`.
    pub unsafe extern "C" fn raw_sub_i32(
        _cif: *const Cif,
        ret: *mut c_void,
        args: *const *mut c_void,
        user_data: *mut c_void,
    ) {
        // SAFETY: the closure passes one pointer per argument (two int32_t), a return buffer
        // of at least 8 bytes, and the counter it was created with.
        unsafe {
            (*user_data.cast::<AtomicU64>()).fetch_add(1, Ordering::Relaxed);
            let a = *(*args).cast::<i32>();
            let b = *(*args.add(1)).cast::<i32>();
            ret.cast::<i32>().write(a.wrapping_sub(b));
        }
    }

    /// `dyn_difb_op` for a closure `dyn_difb (dyn_difb, int32_t)`.
    fn difb_op(args: &Args<'_>, ret: Ret<'_>) {
        let Ok(k) = args.get::<i32>(1) else {
            return;
        };
        if args.cif().args()[0].size() != size_of::<DynDifb>() {
            return;
        }
        // SAFETY: argument 0 and the return value are dyn_difb (size checked above; the
        // callers build the Cif that way), and the return buffer holds one.
        unsafe {
            let x = args.get_unchecked::<DynDifb>(0);
            ret.as_ptr()
                .cast::<DynDifb>()
                .write_unaligned(c::difb_op(x, k));
        }
    }

    fn difb_type() -> Type {
        Type::structure([Type::F64, Type::I32, Type::F32, Type::U8]).expect("a valid struct")
    }

    /// One iteration of dynamic churn on thread `t`: a `Closure`, a `RawClosure` and a
    /// `TypedClosure` per iteration, the mode rotating; every 32nd iteration a fresh Cif
    /// (compiled every other time) with a struct signature. Each is called by C and checked.
    pub fn iteration(t: u64, i: u64, modes: &Modes, raw_calls: &AtomicU64) {
        let salt = (t << 40) | i;
        let mode = (i % 4) as usize;

        let (cif, call_raw) = &modes.u64_u64[mode];
        let closure = Closure::new(cif.clone(), xor(salt)).expect("closure memory");
        // SAFETY: the closure is `uint64_t (uint64_t)` in the ABI of `call_raw`.
        let got = unsafe { call_raw(closure.code_ptr().as_ptr(), i) };
        assert_eq!(
            got,
            i ^ salt,
            "thread {t} iteration {i}: Closure, mode {mode}"
        );
        drop(closure);

        let (cif, check) = &modes.i32_i32[mode];
        let before = raw_calls.load(Ordering::Relaxed);
        // SAFETY: `raw_calls` outlives the closure, which is dropped below; the callback
        // matches the Cif.
        let raw = unsafe {
            RawClosure::from_raw(
                cif.clone(),
                raw_sub_i32,
                (raw_calls as *const AtomicU64).cast_mut().cast(),
            )
        }
        .expect("closure memory");
        // SAFETY: the closure is `int32_t (int32_t, int32_t)` in the ABI of `check`.
        let result = unsafe { check(raw.code_ptr().as_ptr()) };
        drop(raw);
        assert_eq!(
            result, 0,
            "thread {t} iteration {i}: RawClosure, mode {mode}"
        );
        // The checker has three inputs.
        assert_eq!(raw_calls.load(Ordering::Relaxed), before + 3);

        if i % 2 == 0 {
            let typed = TypedClosure::<extern "sysv64" fn(u64) -> u64, _>::new(move |x: u64| {
                x.rotate_left(7) ^ salt
            })
            .expect("closure memory");
            // SAFETY: the typed closure outlives every call through this pointer.
            let f = unsafe { typed.fn_ptr() };
            // SAFETY: the closure is `uint64_t (uint64_t)`, System V.
            let got = unsafe { (modes.u64_u64[0].1)(f as *const c_void, i) };
            assert_eq!(
                got,
                i.rotate_left(7) ^ salt,
                "thread {t} iteration {i}: TypedClosure"
            );
        } else {
            let typed = TypedClosure::<extern "win64" fn(u64) -> u64, _>::new(move |x: u64| {
                x.wrapping_mul(salt | 1)
            })
            .expect("closure memory");
            // SAFETY: the typed closure outlives every call through this pointer.
            let f = unsafe { typed.fn_ptr() };
            // SAFETY: the closure is `uint64_t (uint64_t)`, ms_abi.
            let got = unsafe { (modes.u64_u64[2].1)(f as *const c_void, i) };
            assert_eq!(
                got,
                i.wrapping_mul(salt | 1),
                "thread {t} iteration {i}: TypedClosure win64"
            );
        }

        if i % 32 == 0 {
            let abi = if i % 64 == 0 { Abi::SysV64 } else { Abi::Win64 };
            let compiled = i % 128 < 64;
            let cif = prepared(abi, compiled, vec![difb_type(), Type::I32], difb_type());
            let suite = if abi == Abi::SysV64 {
                c::sysv()
            } else {
                c::win64()
            };
            let closure = Closure::new(cif, difb_op).expect("closure memory");
            // SAFETY: the closure is `dyn_difb (dyn_difb, int32_t)` in the suite's ABI.
            let result = unsafe { (suite.difb_op.check)(closure.code_ptr().as_ptr()) };
            assert_eq!(
                result, 0,
                "thread {t} iteration {i}: fresh {abi:?} Cif (compiled: {compiled}), struct"
            );
        }
    }
}

#[test]
fn eight_threads_create_call_and_drop_thunks_and_closures() {
    let _serial = serial();
    let iters = iters();
    let drops = DropCounter::new();
    let start = Barrier::new(THREADS);
    #[cfg(target_arch = "x86_64")]
    let modes = dynamic::Modes::new();
    thread::scope(|s| {
        for t in 0..THREADS as u64 {
            let (start, drops) = (&start, &drops);
            #[cfg(target_arch = "x86_64")]
            let modes = &modes;
            s.spawn(move || {
                #[cfg(target_arch = "x86_64")]
                let raw_calls = AtomicU64::new(0);
                start.wait();
                for i in 0..iters {
                    static_iteration(t, i, drops);
                    #[cfg(target_arch = "x86_64")]
                    dynamic::iteration(t, i, modes, &raw_calls);
                }
                #[cfg(target_arch = "x86_64")]
                assert_eq!(raw_calls.load(Ordering::Relaxed), 3 * iters, "thread {t}");
            });
        }
    });
    assert_eq!(
        drops.drops() as u64,
        2 * THREADS as u64 * iters,
        "every FnOnce closure dropped exactly once"
    );
}

// ---- shared thunks ---------------------------------------------------------------------------

#[test]
fn one_thunk_and_one_closure_shared_by_every_thread() {
    let _serial = serial();
    let iters = iters();
    let static_calls = AtomicU64::new(0);
    let shared = BareFnSync::new_c(|x: i64| -> i64 {
        static_calls.fetch_add(1, Ordering::Relaxed);
        x.wrapping_mul(3) + 1
    });
    let shared_bare = shared.bare();

    #[cfg(target_arch = "x86_64")]
    let dynamic_calls = AtomicU64::new(0);
    #[cfg(target_arch = "x86_64")]
    let (shared_closures, sysv, win64) = {
        use closure_ffi::dynamic::{Abi, Args, Cif, Closure, Ret, Type};
        let body = |args: &Args<'_>, ret: Ret<'_>| {
            dynamic_calls.fetch_add(1, Ordering::Relaxed);
            let x = args.get::<u64>(0).unwrap_or(0);
            let _ = ret.set(x.wrapping_mul(5) ^ 0x5555);
        };
        let mut compiled = Cif::new(Abi::SysV64, [Type::U64], Type::U64).expect("signature");
        compiled.compile().expect("JIT memory");
        let interpreted = Cif::new(Abi::Win64, [Type::U64], Type::U64).expect("signature");
        (
            [
                Closure::new(compiled, body).expect("closure memory"),
                Closure::new(interpreted, body).expect("closure memory"),
            ],
            closure_ffi_test_support::dynamic::sysv(),
            closure_ffi_test_support::dynamic::win64(),
        )
    };

    let start = Barrier::new(THREADS);
    let want_static_calls: u64 = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS as u64)
            .map(|t| {
                let start = &start;
                #[cfg(target_arch = "x86_64")]
                let shared_closures = &shared_closures;
                s.spawn(move || {
                    start.wait();
                    let mut calls = 0u64;
                    for i in 0..iters {
                        // The shared thunk, called n times from C.
                        let n = (i % 5 + 1) as i64;
                        // SAFETY: `shared` outlives the scope; its closure is Sync.
                        let got = unsafe { peer_call_n(shared_bare, n) };
                        assert_eq!(got, 3 * n * (n - 1) / 2 + n, "thread {t} iteration {i}");
                        // And once from Rust.
                        let x = (t << 32 | i) as i64;
                        // SAFETY: as above.
                        let got = unsafe { shared_bare(x) };
                        assert_eq!(got, x * 3 + 1, "thread {t} iteration {i}");
                        calls += n as u64 + 1;

                        // Thunks made and dropped in between, so that allocation interleaves
                        // with the shared calls.
                        let own = BareFn::new_c(move |y: i64| y + x);
                        // SAFETY: `own` is alive.
                        let got = unsafe { peer_call_n(own.bare(), 3) };
                        assert_eq!(got, 3 + 3 * x, "thread {t} iteration {i}: own thunk");

                        #[cfg(target_arch = "x86_64")]
                        for (k, closure) in shared_closures.iter().enumerate() {
                            let call_raw = if k == 0 {
                                sysv.call_raw
                            } else {
                                win64.call_raw
                            };
                            let y = x as u64;
                            // SAFETY: the closure is `uint64_t (uint64_t)` in this ABI and
                            // outlives the scope.
                            let got = unsafe { call_raw(closure.code_ptr().as_ptr(), y) };
                            assert_eq!(
                                got,
                                y.wrapping_mul(5) ^ 0x5555,
                                "thread {t} iteration {i}: shared closure {k}"
                            );
                        }
                    }
                    calls
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .sum()
    });
    drop(shared);
    assert_eq!(
        static_calls.load(Ordering::SeqCst),
        want_static_calls,
        "every call of the shared BareFnSync reached its closure"
    );
    #[cfg(target_arch = "x86_64")]
    {
        drop(shared_closures);
        assert_eq!(
            dynamic_calls.load(Ordering::SeqCst),
            2 * THREADS as u64 * iters,
            "every call of the shared closures reached them"
        );
    }
}

// ---- thunks that change threads --------------------------------------------------------------

/// Thunks and closures made on one thread, to be called (by running the parcel) and later
/// dropped on another.
type Parcel = Box<dyn FnMut() + Send>;

/// A parcel from thread `t`, iteration `i`: static thunks of every `Sync` family (and an
/// `into_bare` pointer), dynamic closures on x86_64. Each closure holds a drop token.
fn parcel(t: u64, i: u64, drops: &DropCounter) -> Parcel {
    let id = (t << 40) | i;
    let (tf, tg, th, to) = (drops.token(), drops.token(), drops.token(), drops.token());
    let f = BareFnSync::new_c(move |x: i64| {
        let _ = tf.touch();
        x ^ id as i64
    });
    let mut acc = 0i64;
    let g = BareFnMutSync::new_c(move |x: i64| {
        let _ = tg.touch();
        acc += x;
        acc
    });
    let big = big_capture(id);
    let h = BareFnOnceSync::new_c(move |a: i8| -> u64 {
        let _ = th.touch();
        big_mix(&big) as u64 ^ a.bits()
    });
    let once: unsafe extern "C" fn(i8) -> u64 = BareFnOnceSync::new_c(move |a: i8| -> u64 {
        let _ = to.touch();
        id ^ a.bits()
    })
    .into_bare();
    #[cfg(target_arch = "x86_64")]
    let closure = {
        use closure_ffi::dynamic::{Abi, Cif, Closure, Type};
        let td = drops.token();
        let mut cif = Cif::new(Abi::SysV64, [Type::U64], Type::U64).expect("signature");
        if i % 2 == 0 {
            cif.compile().expect("JIT memory");
        }
        let xor = dynamic::xor(id);
        Closure::new(cif, move |args, ret| {
            let _ = td.touch();
            xor(args, ret);
        })
        .expect("closure memory")
    };

    let mut h = Some(h);
    let mut once = Some(once);
    Box::new(move || {
        let v = arg_values();
        // SAFETY: every owner is alive; the calls are sequential; `h` and `once` are called
        // once (taken from their options).
        unsafe {
            assert_eq!(f.bare()(5), 5 ^ id as i64, "parcel {t}/{i}: BareFnSync");
            // The running totals after x = 0, 1, 2, 3, summed by C.
            assert_eq!(
                peer_call_n(g.bare(), 4),
                [0, 1, 3, 6].iter().sum::<i64>(),
                "parcel {t}/{i}: BareFnMutSync"
            );
            if let Some(h) = h.take() {
                let got = call_c_1(h.bare(), v.0);
                assert_eq!(got, big_mix(&big_capture(id)) as u64 ^ v.0.bits());
            }
            if let Some(once) = once.take() {
                assert_eq!(
                    call_c_1(once, v.0),
                    id ^ v.0.bits(),
                    "parcel {t}/{i}: into_bare"
                );
            }
        }
        #[cfg(target_arch = "x86_64")]
        {
            let call_raw = closure_ffi_test_support::dynamic::sysv().call_raw;
            // SAFETY: the closure is `uint64_t (uint64_t)`, System V, and alive.
            let got = unsafe { call_raw(closure.code_ptr().as_ptr(), 77) };
            assert_eq!(got, 77 ^ id, "parcel {t}/{i}: Closure");
        }
    })
}

#[test]
fn created_on_one_thread_called_and_dropped_on_the_next() {
    let _serial = serial();
    let iters = iters();
    let drops = DropCounter::new();
    // A ring: thread t sends its parcels to thread t + 1. Sends never block (unbounded
    // channels), so sending item i and then waiting for the predecessor's item i cannot
    // deadlock.
    let (mut senders, receivers): (Vec<mpsc::Sender<Parcel>>, Vec<_>) =
        (0..THREADS).map(|_| mpsc::channel()).unzip();
    senders.rotate_left(1);
    thread::scope(|s| {
        for (t, (tx, rx)) in senders.into_iter().zip(receivers).enumerate() {
            let drops = &drops;
            s.spawn(move || {
                // Received parcels are kept for a while, then dropped in batches, oldest
                // first, so that frees interleave with other threads' allocations.
                let mut held: Vec<Parcel> = Vec::with_capacity(64);
                for i in 0..iters {
                    tx.send(parcel(t as u64, i, drops))
                        .expect("next thread alive");
                    let mut p = rx.recv().expect("previous thread alive");
                    p();
                    held.push(p);
                    if held.len() == 64 {
                        held.drain(..48);
                    }
                }
            });
        }
    });
    let per_parcel = if cfg!(target_arch = "x86_64") { 5 } else { 4 };
    assert_eq!(
        drops.drops() as u64,
        per_parcel * THREADS as u64 * iters,
        "every closure moved between threads dropped exactly once"
    );
}

// ---- resident memory ---------------------------------------------------------------------------

/// Resident set size in bytes, from /proc/self/statm.
#[cfg(target_os = "linux")]
fn rss_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let resident: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|field| field.parse().ok())
        .expect("statm: resident pages");
    // SAFETY: sysconf only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    resident * usize::try_from(page).expect("page size")
}

/// Thunks alive at once in the memory test: the pools must serve this many slots and then
/// recycle them.
#[cfg(target_os = "linux")]
const RSS_BATCH: usize = 1000;

/// `n` create/call/drop cycles of static thunks: four kinds in turn, two of which stay alive
/// in batches of [`RSS_BATCH`].
#[cfg(target_os = "linux")]
fn static_cycles(n: usize, live: &mut Vec<BareFn<'static, unsafe extern "C" fn(u64) -> u64>>) {
    for k in 0..n {
        let salt = k as u64;
        match k % 4 {
            0 => {
                let f = BareFn::new_c(move |x: u64| x ^ salt);
                live.push(f);
            }
            1 => {
                let mut total = 0u64;
                let g = BareFnMut::new_c(|x: u64| -> u64 {
                    total += x;
                    total
                });
                // SAFETY: `g` is alive.
                assert_eq!(unsafe { g.bare()(salt) }, salt, "cycle {k}: BareFnMut");
            }
            2 => {
                let once = BareFnOnce::new_c(move |x: u64| x.wrapping_add(salt)).into_bare();
                // SAFETY: the single call of an `into_bare` pointer.
                assert_eq!(unsafe { once(1) }, salt + 1, "cycle {k}: BareFnOnce");
            }
            _ => {
                let big = big_capture(salt);
                let f = BareFn::new_c(move |x: u64| x ^ big_mix(&big) as u64);
                live.push(f);
            }
        }
        if live.len() == RSS_BATCH {
            for f in live.drain(..) {
                // SAFETY: `f` is alive.
                let _ = unsafe { f.bare()(0) };
            }
        }
    }
    live.clear();
}

/// `n` create/call/drop cycles of dynamic closures: `Closure` (compiled, kept alive in
/// batches of [`RSS_BATCH`]; interpreted), `RawClosure`, `TypedClosure`, and every 256th
/// cycle a fresh compiled Cif.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
fn dynamic_cycles(n: usize) {
    use closure_ffi::dynamic::{Abi, Cif, Closure, RawClosure, Type, TypedClosure};

    use dynamic::raw_sub_i32;

    let modes = dynamic::Modes::new();
    let raw_calls = AtomicU64::new(0);
    let mut live = Vec::with_capacity(RSS_BATCH);
    for k in 0..n {
        let salt = k as u64;
        match k % 4 {
            0 => {
                let cif = modes.u64_u64[1].0.clone();
                live.push(Closure::new(cif, dynamic::xor(salt)).expect("closure memory"));
            }
            1 => {
                let cif = modes.u64_u64[0].0.clone();
                let closure = Closure::new(cif, dynamic::xor(salt)).expect("closure memory");
                // SAFETY: the closure is `uint64_t (uint64_t)`, System V.
                let f: extern "C" fn(u64) -> u64 = unsafe { closure.fn_ptr() };
                assert_eq!(f(1), 1 ^ salt, "cycle {k}: Closure");
            }
            2 => {
                let cif = modes.i32_i32[k % 8 / 2].0.clone();
                let calls = &raw_calls;
                // SAFETY: `raw_calls` outlives the closure, which is dropped at the end of
                // this arm; the callback matches the Cif.
                let raw = unsafe {
                    RawClosure::from_raw(
                        cif,
                        raw_sub_i32,
                        (calls as *const AtomicU64).cast_mut().cast(),
                    )
                }
                .expect("closure memory");
                // SAFETY: the closure is `int32_t (int32_t, int32_t)` in its Cif's ABI.
                let got = unsafe {
                    if k % 8 < 4 {
                        raw.fn_ptr::<extern "C" fn(i32, i32) -> i32>()(7, 3)
                    } else {
                        raw.fn_ptr::<extern "win64" fn(i32, i32) -> i32>()(7, 3)
                    }
                };
                assert_eq!(got, 4, "cycle {k}: RawClosure");
            }
            _ => {
                let typed =
                    TypedClosure::<extern "C" fn(u64) -> u64, _>::new(move |x: u64| x + salt)
                        .expect("closure memory");
                // SAFETY: the typed closure outlives every call through this pointer.
                let f = unsafe { typed.fn_ptr() };
                assert_eq!(f(2), 2 + salt, "cycle {k}: TypedClosure");
            }
        }
        if k % 256 == 0 {
            let mut cif =
                Cif::new(Abi::SysV64, [Type::I64, Type::F64], Type::F64).expect("signature");
            cif.compile().expect("JIT memory");
            let closure = Closure::new(cif, |args, ret| {
                let (a, b) = (
                    args.get::<i64>(0).unwrap_or(0),
                    args.get::<f64>(1).unwrap_or(0.0),
                );
                let _ = ret.set(a as f64 * b);
            })
            .expect("closure memory");
            // SAFETY: the closure is `double (int64_t, double)`, System V.
            let f: extern "C" fn(i64, f64) -> f64 = unsafe { closure.fn_ptr() };
            assert_eq!(f(3, 0.5), 1.5, "cycle {k}: fresh compiled Cif");
        }
        if live.len() == RSS_BATCH {
            for closure in live.drain(..) {
                // SAFETY: the closure is `uint64_t (uint64_t)`, System V.
                let f: extern "C" fn(u64) -> u64 = unsafe { closure.fn_ptr() };
                let _ = f(0);
            }
        }
    }
}

// Linux only: the resident set size comes from /proc/self/statm.
#[cfg(target_os = "linux")]
#[test]
fn resident_memory_stays_flat_over_a_million_thunks_and_closures() {
    /// The growth allowed between the measurements.
    const BOUND: usize = 4 << 20;
    let _serial = serial();
    let default = if cfg!(debug_assertions) {
        200_000
    } else {
        1_000_000
    };
    let cycles = env_count("STRESS_RSS_CYCLES", default) as usize;
    // The warm-up fills the pools, caches and free lists to the batch's peak.
    let warm_up = (cycles / 10).max(4 * RSS_BATCH);
    let mut live = Vec::with_capacity(RSS_BATCH);
    static_cycles(warm_up, &mut live);
    #[cfg(target_arch = "x86_64")]
    dynamic_cycles(warm_up);

    let before = rss_bytes();
    static_cycles(cycles, &mut live);
    let after_static = rss_bytes();
    #[cfg(target_arch = "x86_64")]
    dynamic_cycles(cycles);
    let after_dynamic = rss_bytes();

    let kib = |bytes: usize| bytes / 1024;
    let growth = |from: usize, to: usize| to as i64 / 1024 - from as i64 / 1024;
    let dynamic = if cfg!(target_arch = "x86_64") {
        format!("{cycles} dynamic closures")
    } else {
        "no dynamic closures (x86_64 only)".to_owned()
    };
    println!(
        "rss: {cycles} static thunks, then {dynamic}, created and dropped (after a warm-up \
         of {warm_up} each): before {} KiB, after the static ones {} KiB ({:+} KiB), after \
         the dynamic ones {} KiB ({:+} KiB)",
        kib(before),
        kib(after_static),
        growth(before, after_static),
        kib(after_dynamic),
        growth(after_static, after_dynamic),
    );
    assert!(
        after_static <= before + BOUND,
        "static thunks: RSS grew from {} KiB to {} KiB",
        kib(before),
        kib(after_static)
    );
    assert!(
        after_dynamic <= after_static + BOUND && after_dynamic <= before + BOUND,
        "dynamic closures: RSS grew from {} KiB to {} KiB (before the static ones: {} KiB)",
        kib(after_static),
        kib(after_dynamic),
        kib(before)
    );
}
