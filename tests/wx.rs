//! W^X, observed from outside the allocator: while worker threads create, call and drop
//! thunks and dynamic closures, /proc/self/maps never shows a mapping that is both writable
//! and executable, every code address handed out (`BareFn*::bare()`, `Closure::code_ptr()`,
//! `TypedClosure::fn_ptr()`) lies in a read-execute mapping, and the writable view of the
//! same bytes (the other mapping of the same memfd at the same file offset) is at another
//! address and is not executable. The `(rx, rw)` pairs that `JitAlloc::alloc` returns (what
//! the C API's `ffi_closure_alloc` hands out as code and writable pointers) are checked the
//! same way, for pool slots and for large blocks.
//!
//! The default allocator (`PoolJitAlloc`, dual mapping of a memfd) on Linux x86_64,
//! i686 and aarch64. The work is bounded by rounds, not time: `WX_ROUNDS` (default [`DEFAULT_ROUNDS`])
//! checker rounds; `scripts/stress` runs this file in release with many more.

// Linux only: the observer reads /proc/self/maps and matches the two views by memfd offset;
// Windows has neither (its allocator's dual mapping is a section object). Not on 32-bit Arm:
// its default allocator is a single read-write-execute mapping
// (`jit_alloc::DUAL_MAPPING_BY_DEFAULT`: qemu-arm misses code rewritten through a second view).
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64"),
    feature = "default_jit_alloc"
))]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::thread;

use closure_ffi::jit_alloc::PoolJitAlloc;
use closure_ffi::{BareFn, BareFnMut, BareFnOnce, GlobalJitAlloc, JitAlloc};

/// Checker rounds without `WX_ROUNDS`.
const DEFAULT_ROUNDS: u64 = 150;
/// Threads creating and calling thunks while the checker reads the mappings.
const WORKERS: usize = 3;

/// `WX_ROUNDS`, or [`DEFAULT_ROUNDS`].
fn rounds() -> u64 {
    match std::env::var("WX_ROUNDS") {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("WX_ROUNDS={value:?} is not a number")),
        Err(_) => DEFAULT_ROUNDS,
    }
}

// ---- /proc/self/maps ---------------------------------------------------------------------------

/// One line of /proc/self/maps.
#[derive(Debug, Clone)]
struct Mapping {
    low: usize,
    high: usize,
    /// `rwxp` style: read, write, execute, then `s`hared or `p`rivate.
    perms: String,
    /// Offset of `low` in the mapped file.
    offset: u64,
    dev: String,
    /// 0 for anonymous memory.
    inode: u64,
    path: String,
}

impl Mapping {
    fn writable(&self) -> bool {
        self.perms.as_bytes()[1] == b'w'
    }

    fn executable(&self) -> bool {
        self.perms.as_bytes()[2] == b'x'
    }

    fn shared(&self) -> bool {
        self.perms.as_bytes()[3] == b's'
    }

    fn contains(&self, addr: usize) -> bool {
        (self.low..self.high).contains(&addr)
    }

    /// The offset in the mapped file of the byte at `addr` (inside this mapping).
    fn file_offset(&self, addr: usize) -> u64 {
        self.offset + (addr - self.low) as u64
    }

    /// Whether both map the same file (never true for anonymous memory).
    fn same_file(&self, other: &Mapping) -> bool {
        self.inode != 0 && self.inode == other.inode && self.dev == other.dev
    }
}

/// Every mapping of this process.
fn mappings() -> Vec<Mapping> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines()
        .map(|line| {
            let mut fields = line.split_ascii_whitespace();
            let mut next = |what: &str| {
                fields
                    .next()
                    .unwrap_or_else(|| panic!("maps line {line:?}: no {what}"))
            };
            let (range, perms, offset, dev, inode) = (
                next("range"),
                next("perms"),
                next("offset"),
                next("device"),
                next("inode"),
            );
            let path = fields.collect::<Vec<_>>().join(" ");
            let (low, high) = range.split_once('-').expect("low-high");
            let hex = |s: &str| usize::from_str_radix(s, 16).expect("hex address");
            assert_eq!(perms.len(), 4, "maps line {line:?}: perms");
            Mapping {
                low: hex(low),
                high: hex(high),
                perms: perms.to_owned(),
                offset: u64::from_str_radix(offset, 16).expect("hex offset"),
                dev: dev.to_owned(),
                inode: inode.parse().expect("decimal inode"),
                path,
            }
        })
        .collect()
}

/// Asserts that no mapping is writable and executable at once.
fn assert_no_wx(maps: &[Mapping], when: &str) {
    let wx: Vec<&Mapping> = maps
        .iter()
        .filter(|m| m.writable() && m.executable())
        .collect();
    assert!(wx.is_empty(), "{when}: writable and executable: {wx:#?}");
}

/// The one mapping that holds `addr`.
fn mapping_at<'m>(maps: &'m [Mapping], addr: usize, what: &str) -> &'m Mapping {
    let mut holding = maps.iter().filter(|m| m.contains(addr));
    let m = holding
        .next()
        .unwrap_or_else(|| panic!("{what}: {addr:#x} is not mapped"));
    assert!(holding.next().is_none(), "{what}: mappings overlap");
    m
}

/// The writable views of the byte at `addr` in `m`: the other mappings of the same file
/// that map the same file offset.
fn other_views<'m>(maps: &'m [Mapping], m: &Mapping, addr: usize) -> Vec<&'m Mapping> {
    let offset = m.file_offset(addr);
    maps.iter()
        .filter(|o| o.low != m.low && o.same_file(m))
        .filter(|o| (o.offset..o.offset + (o.high - o.low) as u64).contains(&offset))
        .collect()
}

/// Asserts that code at `addr` is readable and executable and not writable; for JIT memory
/// (a shared mapping of a memfd), that the same bytes are also mapped writable elsewhere
/// (the dual view) and that every other view of them is not executable. Returns whether
/// `addr` is JIT memory (else it is the program's own code: a template).
fn assert_code(maps: &[Mapping], addr: usize, what: &str) -> bool {
    let m = mapping_at(maps, addr, what);
    assert!(
        m.perms.starts_with("r-x"),
        "{what}: code at {addr:#x} in {m:?}"
    );
    if !m.shared() {
        return false;
    }
    let views = other_views(maps, m, addr);
    assert!(
        views.iter().any(|v| v.writable()),
        "{what}: code at {addr:#x} in {m:?} has no writable view: {views:#?}"
    );
    for v in views {
        assert!(
            !v.executable(),
            "{what}: another view of code at {addr:#x} is executable: {v:?}"
        );
        assert!(
            v.perms.starts_with("rw-"),
            "{what}: a view of code at {addr:#x}: {v:?}"
        );
    }
    true
}

/// Asserts that `(rx, rw)` from `JitAlloc::alloc` are two distinct views of the same bytes:
/// rx read-execute, rw read-write and not executable, the same file offset of one memfd.
fn assert_dual_views(maps: &[Mapping], rx: *const u8, rw: *mut u8, what: &str) {
    let (rx, rw) = (rx as usize, rw as usize);
    assert_ne!(rx, rw, "{what}: one address for both views");
    let code = mapping_at(maps, rx, what);
    let data = mapping_at(maps, rw, what);
    assert!(code.perms.starts_with("r-x"), "{what}: rx view {code:?}");
    assert!(data.perms.starts_with("rw-"), "{what}: rw view {data:?}");
    assert!(
        code.same_file(data) && code.shared() && data.shared(),
        "{what}: the views map different memory: {code:?} / {data:?}"
    );
    assert_eq!(
        code.file_offset(rx),
        data.file_offset(rw),
        "{what}: the views are at different offsets of {}",
        code.path
    );
}

// ---- machine code for the raw allocator views ---------------------------------------------------

/// `mov eax, value; ret`: `extern "C" fn() -> u32` on x86_64 and i686.
#[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
fn const_code(value: u32) -> Vec<u8> {
    let v = value.to_le_bytes();
    vec![0xB8, v[0], v[1], v[2], v[3], 0xC3]
}

/// `movz w0, #lo; movk w0, #hi, lsl #16; ret`: `extern "C" fn() -> u32` on aarch64.
#[cfg(target_arch = "aarch64")]
fn const_code(value: u32) -> Vec<u8> {
    let (lo, hi) = (value & 0xFFFF, value >> 16);
    [
        0x5280_0000 | (lo << 5),
        0x72A0_0000 | (hi << 5),
        0xD65F_03C0,
    ]
    .iter()
    .flat_map(|w: &u32| w.to_le_bytes())
    .collect()
}

/// Allocates `size` bytes from `jit`, writes [`const_code`] through the writable view,
/// checks that the executable view reads the same bytes and runs them; returns the views.
fn alloc_and_run(jit: &impl JitAlloc, size: usize, value: u32) -> (*const u8, *mut u8) {
    let code = const_code(value);
    let (rx, rw) = jit.alloc(size.max(code.len())).expect("JIT memory");
    // SAFETY: `(rx, rw)` is a live block of at least `code.len()` bytes, written through
    // `rw` only; `rx` is readable.
    let read_back = unsafe {
        core::ptr::copy_nonoverlapping(code.as_ptr(), rw, code.len());
        jit.flush_instruction_cache(rx, code.len());
        core::slice::from_raw_parts(rx, code.len()).to_vec()
    };
    assert_eq!(
        read_back, code,
        "size {size}: rx does not show what rw wrote"
    );
    // SAFETY: `rx` holds `const_code(value)`, a C function `() -> u32`.
    let f: extern "C" fn() -> u32 = unsafe { core::mem::transmute::<*const u8, _>(rx) };
    assert_eq!(f(), value, "size {size}: running the block");
    (rx, rw)
}

/// Block sizes: every pool size class and large blocks (mappings of their own).
const SIZES: [usize; 7] = [6, 40, 100, 200, 480, 3000, 70_000];

// ---- the tests ----------------------------------------------------------------------------------

/// Sets the flag when dropped, so that workers stop even if the checker panics.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What a worker does until it is told to stop: thunks and closures of several kinds,
/// created, called, dropped; every 64th iteration it checks the mappings itself, with a
/// thunk of its own alive.
fn worker(w: u64, stop: &AtomicBool, start: &Barrier, checks: &AtomicU64) -> u64 {
    start.wait();
    let mut i = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let salt = (w << 32) | i;
        let f = BareFn::new_c(move |x: u64| x ^ salt);
        // SAFETY: `f` is alive.
        assert_eq!(unsafe { f.bare()(i) }, i ^ salt, "worker {w}: BareFn");

        let mut total = 0u64;
        let g = BareFnMut::new_c(|x: u64| {
            total += x;
            total
        });
        // SAFETY: `g` is alive; this thread is its only caller.
        unsafe {
            g.bare()(i);
            g.bare()(1);
        }
        drop(g);
        assert_eq!(total, i + 1, "worker {w}: BareFnMut");

        let big = [salt; 20];
        let once = BareFnOnce::new_c(move |x: u64| x + big.iter().sum::<u64>() % 1000).into_bare();
        // SAFETY: the single call of an `into_bare` pointer.
        let got = unsafe { once(i) };
        assert_eq!(
            got,
            i + [salt; 20].iter().sum::<u64>() % 1000,
            "worker {w}: once"
        );

        #[cfg(target_arch = "x86_64")]
        let closure = {
            use closure_ffi::dynamic::{Abi, Cif, Closure, Type};
            let mut cif = Cif::new(Abi::SysV64, [Type::U64], Type::U64).expect("signature");
            if i % 2 == 0 {
                cif.compile().expect("JIT memory");
            }
            let closure = Closure::new(cif, move |args, ret| {
                let _ = ret.set(args.get::<u64>(0).unwrap_or(0).wrapping_add(salt));
            })
            .expect("closure memory");
            // SAFETY: the closure is `uint64_t (uint64_t)`, System V.
            let f: extern "C" fn(u64) -> u64 = unsafe { closure.fn_ptr() };
            assert_eq!(f(3), 3u64.wrapping_add(salt), "worker {w}: Closure");
            closure
        };

        if i % 64 == 0 {
            let maps = mappings();
            assert_no_wx(&maps, &format!("worker {w} iteration {i}"));
            assert_code(&maps, f.bare() as usize, &format!("worker {w}: BareFn"));
            #[cfg(target_arch = "x86_64")]
            assert_code(
                &maps,
                closure.code_ptr().as_ptr() as usize,
                &format!("worker {w}: Closure"),
            );
            checks.fetch_add(1, Ordering::Relaxed);
        }
        i += 1;
    }
    i
}

#[test]
fn no_mapping_is_writable_and_executable_while_threads_churn() {
    let rounds = rounds();
    let stop = AtomicBool::new(false);
    let start = Barrier::new(WORKERS + 1);
    let worker_checks = AtomicU64::new(0);
    let iterations: u64 = thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS as u64)
            .map(|w| {
                let (stop, start, checks) = (&stop, &start, &worker_checks);
                s.spawn(move || worker(w, stop, start, checks))
            })
            .collect();
        let _stop = StopOnDrop(&stop);
        start.wait();
        for round in 0..rounds {
            check_round(round);
        }
        drop(_stop);
        workers
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .sum()
    });
    println!(
        "wx: {rounds} checker rounds; workers ran {iterations} iterations and checked the \
         mappings {} times",
        worker_checks.load(Ordering::Relaxed)
    );
    assert!(iterations > 0, "the workers ran");
}

/// One checker round: code of every kind alive, raw allocator blocks, one read of the
/// mappings, every address checked against it.
fn check_round(round: u64) {
    let salt = round.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let f = BareFn::new_c(move |x: u64| x.wrapping_add(salt));
    let mut count = 0u64;
    let g = BareFnMut::new_c(|x: u64| {
        count += 1;
        x ^ count
    });
    let h = BareFnOnce::new_c(move |x: u64| x.wrapping_sub(salt));
    let big = [salt; 24];
    let b = BareFn::new_c(move |x: u64| x ^ big[(x % 24) as usize]);
    // Zero-sized: the template itself, in the program's code.
    let z = BareFn::new_c(|x: u64| x + 1);
    // SAFETY: all are alive; `h` is called once.
    unsafe {
        assert_eq!(f.bare()(1), 1u64.wrapping_add(salt));
        assert_eq!(g.bare()(4), 5);
        assert_eq!(h.bare()(salt), 0);
        assert_eq!(b.bare()(3), 3 ^ salt);
        assert_eq!(z.bare()(1), 2);
    }
    let static_code = [
        (f.bare() as usize, "BareFn"),
        (g.bare() as usize, "BareFnMut"),
        (h.bare() as usize, "BareFnOnce"),
        (b.bare() as usize, "BareFn with a 192-byte capture"),
    ];

    #[cfg(target_arch = "x86_64")]
    let closures = {
        use closure_ffi::dynamic::{Abi, Cif, Closure, Type, TypedClosure};
        let body = move |args: &closure_ffi::dynamic::Args<'_>,
                         ret: closure_ffi::dynamic::Ret<'_>| {
            let _ = ret.set(args.get::<u64>(0).unwrap_or(0) ^ salt);
        };
        let interpreted = Cif::new(Abi::SysV64, [Type::U64], Type::U64).expect("signature");
        let mut compiled = Cif::new(Abi::Win64, [Type::U64], Type::U64).expect("signature");
        compiled.compile().expect("JIT memory");
        let c1 = Closure::new(interpreted, body).expect("closure memory");
        let c2 = Closure::new(compiled, body).expect("closure memory");
        let typed = TypedClosure::<extern "C" fn(u64) -> u64, _>::new(move |x: u64| x + salt)
            .expect("closure memory");
        // SAFETY: the closures are `uint64_t (uint64_t)` in their Cifs' ABIs.
        unsafe {
            assert_eq!(c1.fn_ptr::<extern "C" fn(u64) -> u64>()(7), 7 ^ salt);
            assert_eq!(c2.fn_ptr::<extern "win64" fn(u64) -> u64>()(7), 7 ^ salt);
        }
        // SAFETY: the typed closure outlives every call through this pointer.
        assert_eq!((unsafe { typed.fn_ptr() })(7), 7u64.wrapping_add(salt));
        (c1, c2, typed)
    };
    #[cfg(target_arch = "x86_64")]
    let dynamic_code = [
        (
            closures.0.code_ptr().as_ptr() as usize,
            "Closure, interpreted",
        ),
        (closures.1.code_ptr().as_ptr() as usize, "Closure, compiled"),
        // SAFETY: the typed closure outlives every call through this pointer.
        (unsafe { closures.2.fn_ptr() } as usize, "TypedClosure"),
    ];
    #[cfg(not(target_arch = "x86_64"))]
    let dynamic_code: [(usize, &str); 0] = [];

    // What the C API's ffi_closure_alloc hands out: both views of a global block.
    let size = SIZES[round as usize % SIZES.len()];
    let (rx, rw) = alloc_and_run(&GlobalJitAlloc, size, round as u32);

    let maps = mappings();
    assert_no_wx(&maps, &format!("round {round}"));
    for (addr, what) in static_code.into_iter().chain(dynamic_code) {
        assert!(
            assert_code(&maps, addr, &format!("round {round}: {what}")),
            "round {round}: {what} at {addr:#x} is not in JIT memory"
        );
    }
    assert!(
        !assert_code(&maps, z.bare() as usize, "zero-sized closure"),
        "a zero-sized closure's pointer is its template, in the program's code"
    );
    assert_dual_views(&maps, rx, rw, &format!("round {round}: {size}-byte block"));
    // SAFETY: `rx` came from this allocator and is no longer used.
    unsafe { GlobalJitAlloc.release(rx) }.expect("release");
}

#[test]
fn allocator_views_are_distinct_and_the_writable_one_never_executable() {
    let own = PoolJitAlloc::new();
    for round in 0..rounds().div_ceil(10) {
        let mut blocks = Vec::new();
        for (k, &size) in SIZES.iter().enumerate() {
            let value = (round as u32) << 8 | k as u32;
            blocks.push((alloc_and_run(&GlobalJitAlloc, size, value), size, "global"));
            blocks.push((alloc_and_run(&own, size, value), size, "own"));
        }
        let maps = mappings();
        assert_no_wx(&maps, &format!("round {round}"));
        let mut addrs = Vec::new();
        for &((rx, rw), size, which) in &blocks {
            assert_dual_views(&maps, rx, rw, &format!("{which} {size}-byte block"));
            addrs.extend([rx as usize, rw as usize]);
        }
        addrs.sort_unstable();
        addrs.dedup();
        assert_eq!(addrs.len(), 2 * blocks.len(), "round {round}: views shared");
        for ((rx, _), _, which) in blocks {
            // SAFETY: each block came from the allocator named by `which`, once.
            let released = unsafe {
                if which == "global" {
                    GlobalJitAlloc.release(rx)
                } else {
                    own.release(rx)
                }
            };
            released.expect("release");
        }
    }
}
