//! Thunks under concurrency: many threads creating, calling and dropping their own thunks
//! (including the first use of a template racing on every thread), one `BareFnSync` shared
//! by 8 threads, and thunks created on one thread and called/dropped on another.

#![cfg(feature = "default_jit_alloc")]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;

use closure_ffi::{BareFn, BareFnMut, BareFnMutSync, BareFnOnce, BareFnOnceSync, BareFnSync};
use common::{checksum, DropCounter};

const THREADS: usize = 8;
const ITERATIONS: u64 = 2000;

#[test]
fn threads_create_call_and_drop_their_own_thunks() {
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        for t in 0..THREADS as u64 {
            let start = &start;
            s.spawn(move || {
                // Every thread instantiates this template for the first time at once.
                start.wait();
                let first = BareFn::new_c(move |x: u64, y: u64| x * y + t);
                // SAFETY: `first` is alive.
                let got = unsafe { first.bare()(6, 7) };
                assert_eq!(got, 42 + t, "thread {t}: first thunk");
                drop(first);

                let want_bits = common::arg_bits();
                let mut mut_total = 0u64;
                for i in 0..ITERATIONS {
                    let salt = (t << 32) | i;

                    let f = BareFn::new_c(move |a: u32| u64::from(a) ^ salt);
                    // SAFETY: `f` is alive.
                    let got = unsafe { f.bare()(i as u32) };
                    assert_eq!(got, i ^ salt, "thread {t} iteration {i}: BareFn");

                    let g = BareFnMut::new_c(|a: u64| {
                        mut_total += a;
                        mut_total
                    });
                    // SAFETY: `g` is alive; this thread is its only caller.
                    let got = unsafe { g.bare()(i) };
                    drop(g);
                    assert_eq!(got, mut_total, "thread {t} iteration {i}: BareFnMut");

                    let label = format!("{t}-{i}");
                    let h = BareFnOnce::new_c(move |a: u64| label.len() as u64 + a);
                    // SAFETY: `h` is alive and called once.
                    let got = unsafe { h.bare()(salt) };
                    assert_eq!(
                        got,
                        format!("{t}-{i}").len() as u64 + salt,
                        "thread {t} iteration {i}: BareFnOnce"
                    );

                    if i % 64 == 0 {
                        // The widest signature, through C.
                        let w = common::wide_thunk(move || salt);
                        // SAFETY: `w` is alive and has the `Wide` signature.
                        let got = unsafe { common::call_wide_from_c(w.bare()) };
                        assert_eq!(
                            got,
                            checksum(salt, &want_bits),
                            "thread {t} iteration {i}: 12 arguments from C"
                        );
                    }
                }
                assert_eq!(
                    mut_total,
                    ITERATIONS * (ITERATIONS - 1) / 2,
                    "thread {t}: BareFnMut totals"
                );
            });
        }
    });
}

#[test]
fn one_bare_fn_sync_called_from_8_threads() {
    const CALLS: u64 = 10_000;
    let total = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let (t2, c2) = (total.clone(), calls.clone());
    let k = 3u64;
    let f = BareFnSync::new_c(move |x: u64| -> u64 {
        t2.fetch_add(x, Ordering::Relaxed);
        c2.fetch_add(1, Ordering::Relaxed);
        x * k
    });
    let bare = f.bare();
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        for t in 0..THREADS as u64 {
            let start = &start;
            s.spawn(move || {
                start.wait();
                for i in 0..CALLS {
                    let x = t * CALLS + i;
                    // SAFETY: `f` outlives the scope and its closure is `Sync`.
                    let got = unsafe { bare(x) };
                    assert_eq!(got, x * 3, "thread {t} call {i}: return value");
                }
            });
        }
    });
    drop(f);
    let n = THREADS as u64 * CALLS;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        n,
        "every call reached the closure"
    );
    assert_eq!(
        total.load(Ordering::SeqCst),
        n * (n - 1) / 2,
        "sum of all arguments seen"
    );
}

/// What a producer thread sends to a consumer: thunks of the three `Sync` families.
struct Batch {
    id: u64,
    f: BareFnSync<'static, unsafe extern "C" fn(u64) -> u64>,
    g: BareFnMutSync<'static, unsafe extern "C" fn(u64) -> u64>,
    h: BareFnOnceSync<'static, unsafe extern "C" fn(u64) -> u64>,
}

#[test]
fn thunks_created_on_one_thread_used_and_dropped_on_another() {
    const BATCHES: u64 = 3000;
    let counter = DropCounter::new();
    let (tx, rx) = mpsc::sync_channel::<Batch>(64);

    let producer_counter = counter.clone();
    let producer = thread::spawn(move || {
        for id in 0..BATCHES {
            let tf = producer_counter.token();
            let tg = producer_counter.token();
            let th = producer_counter.token();
            let mut acc = id;
            let batch = Batch {
                id,
                f: BareFnSync::new_c(move |x: u64| {
                    let _ = tf.touch();
                    x + id
                }),
                g: BareFnMutSync::new_c(move |x: u64| {
                    let _ = tg.touch();
                    acc += x;
                    acc
                }),
                h: BareFnOnceSync::new_c(move |x: u64| {
                    let _ = th.touch();
                    x * 2 + id
                }),
            };
            tx.send(batch).expect("consumer hung up");
        }
    });

    let consumer = thread::spawn(move || {
        // Keep some thunks alive for a while, so that frees interleave with allocations.
        let mut held = Vec::new();
        for batch in rx {
            let id = batch.id;
            // SAFETY: the owners are alive; calls are sequential; `h` is called once.
            unsafe {
                assert_eq!(batch.f.bare()(1), 1 + id, "batch {id}: BareFnSync");
                assert_eq!(
                    batch.g.bare()(1),
                    id + 1,
                    "batch {id}: BareFnMutSync call 1"
                );
                assert_eq!(
                    batch.g.bare()(2),
                    id + 3,
                    "batch {id}: BareFnMutSync call 2"
                );
                assert_eq!(batch.h.bare()(5), 10 + id, "batch {id}: BareFnOnceSync");
            }
            held.push(batch);
            if held.len() >= 100 {
                held.drain(..50);
            }
        }
        drop(held);
    });

    producer.join().expect("producer panicked");
    consumer.join().expect("consumer panicked");
    assert_eq!(
        counter.drops(),
        3 * BATCHES as usize,
        "every closure dropped exactly once (the FnOnce ones by their call)"
    );

    // And the other way round: created on workers, dropped on this thread.
    let made: Vec<BareFnSync<'static, unsafe extern "C" fn(u64) -> u64>> = thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS as u64)
            .map(|t| {
                let counter = counter.clone();
                s.spawn(move || {
                    (0..200)
                        .map(|i| {
                            let token = counter.token();
                            BareFnSync::new_c(move |x: u64| {
                                let _ = token.touch();
                                x + t * 1000 + i
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker panicked"))
            .collect()
    });
    for (n, f) in made.iter().enumerate() {
        let (t, i) = (n as u64 / 200, n as u64 % 200);
        // SAFETY: `f` is alive and its closure is `Sync`.
        let got = unsafe { f.bare()(0) };
        assert_eq!(got, t * 1000 + i, "thunk {n} made on worker {t}");
    }
    drop(made);
    assert_eq!(
        counter.drops(),
        3 * BATCHES as usize + THREADS * 200,
        "thunks made on workers and dropped here drop their closures once"
    );
}

#[test]
fn into_bare_once_thunks_called_and_released_on_other_threads() {
    const PER_THREAD: u64 = 500;
    let counter = DropCounter::new();
    // Made on this thread, handed out with `into_bare`, called (and so freed) on workers.
    let pointers: Vec<Vec<(u64, unsafe extern "C" fn(u64) -> u64)>> = (0..THREADS as u64)
        .map(|t| {
            (0..PER_THREAD)
                .map(|i| {
                    let id = t * PER_THREAD + i;
                    let token = counter.token();
                    let f = BareFnOnceSync::new_c(move |x: u64| {
                        let _ = token.touch();
                        x + id
                    });
                    (id, f.into_bare())
                })
                .collect()
        })
        .collect();
    assert_eq!(counter.drops(), 0, "nothing dropped before the calls");
    thread::scope(|s| {
        for (t, batch) in pointers.into_iter().enumerate() {
            s.spawn(move || {
                for (id, bare) in batch {
                    // SAFETY: the single call of an `into_bare` pointer of a `Send` closure.
                    let got = unsafe { bare(1_000_000) };
                    assert_eq!(got, 1_000_000 + id, "worker {t}: thunk {id}");
                }
            });
        }
    });
    assert_eq!(
        counter.drops(),
        THREADS * PER_THREAD as usize,
        "every into_bare closure was dropped once, by its call"
    );
}
