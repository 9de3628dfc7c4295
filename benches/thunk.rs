//! Static-layer benchmarks, side by side in one run:
//! - `call/direct`: an `extern "C" fn(u64, u64) -> u64` called through a pointer;
//! - `call/thunk_capturing`: the same work in a capturing closure behind a `BareFn` thunk;
//! - `call/thunk_zst`: a non-capturing closure behind a `BareFn` (the template itself);
//! - `create_drop/capturing`: `BareFn::new_c` of a capturing closure, then drop.
//!
//! Run: `cargo bench --bench thunk`.

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn

use closure_ffi::BareFn;
use criterion::measurement::WallTime;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkGroup, Criterion};

#[inline(never)]
extern "C" fn add_offset(a: u64, b: u64) -> u64 {
    a.wrapping_add(b).wrapping_add(black_box(7))
}

/// Benchmarks calling `f(x, 3)` in a loop where each result feeds the next call.
fn bench_call(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    f: unsafe extern "C" fn(u64, u64) -> u64,
) {
    g.bench_function(name, |b| {
        let f = black_box(f);
        let mut x = 0u64;
        b.iter(|| {
            // SAFETY: `f` is a plain extern "C" fn or a thunk whose owner outlives the group.
            x = unsafe { f(black_box(x), 3) };
        });
        black_box(x);
    });
}

fn calls(c: &mut Criterion) {
    let mut g = c.benchmark_group("call");
    bench_call(&mut g, "direct", add_offset);

    let offset = black_box(7u64);
    let capturing = BareFn::new_c(move |a: u64, b: u64| a.wrapping_add(b).wrapping_add(offset));
    bench_call(&mut g, "thunk_capturing", capturing.bare());

    let zst = BareFn::new_c(|a: u64, b: u64| a.wrapping_add(b).wrapping_add(black_box(7)));
    bench_call(&mut g, "thunk_zst", zst.bare());
    g.finish();
}

fn create_drop(c: &mut Criterion) {
    let mut g = c.benchmark_group("create_drop");
    let offset = black_box(7u64);
    // Warm the per-template relocation cache and the allocator's thread cache.
    drop(BareFn::new_c(move |a: u64, b: u64| a + b + offset));
    g.bench_function("capturing", |b| {
        b.iter(|| {
            let f = BareFn::new_c(move |a: u64, b: u64| a + b + offset);
            black_box(f.bare());
        });
    });
    g.finish();
}

criterion_group!(benches, calls, create_drop);
criterion_main!(benches);
