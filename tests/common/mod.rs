//! Helpers shared by the integration tests: the argument values of the mixed signatures,
//! an order-sensitive checksum, drop tracking, and a counting [`JitAlloc`] wrapper.

#![allow(
    dead_code,
    reason = "each test crate uses a different subset of these helpers"
)]

#[cfg(all(target_os = "linux", any(target_arch = "aarch64", target_arch = "arm")))]
pub mod code_patch;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use closure_ffi::jit_alloc::ProtectJitAccess;
use closure_ffi::{JitAlloc, JitAllocError};
use closure_ffi_test_support::{Large, Mixed, Small};

/// A byte whose address is passed as the `*const u8` argument.
pub static POINTEE: u8 = 0xC3;

/// The twelve argument values of the mixed signatures, in order
/// `(i8, u16, i32, u64, f32, f64, *const u8, i16, u8, i64, u32, f64)`.
///
/// Each one has high bits set, a sign, or a fraction, so that a truncated, swapped or
/// misplaced argument changes the checksum.
#[allow(clippy::type_complexity)]
pub fn arg_values() -> (
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
) {
    (
        -77,
        0xBEEF,
        -123_456_789,
        0xDEAD_BEEF_CAFE_F00D,
        3.25,
        -1.234_567_8e13,
        &POINTEE,
        -30_000,
        0xA5,
        i64::MIN + 12_345,
        0xFEED_FACE,
        6.022_140_76e23,
    )
}

/// The same twelve values, shifted so that two thunks in one test can tell their calls apart.
#[allow(clippy::type_complexity)]
pub fn other_arg_values() -> (
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
) {
    (
        101,
        0x1234,
        987_654_321,
        0x0123_4567_89AB_CDEF,
        -0.5,
        2.5e-3,
        core::ptr::null(),
        12_345,
        0x7E,
        -42,
        0x8000_0001,
        -1.0e-300,
    )
}

/// The exact bits of an argument, widened to `u64` (sign-extended for signed integers).
pub trait Bits: Copy {
    /// The value's bit pattern.
    fn bits(self) -> u64;
}

macro_rules! int_bits {
    ($($t:ty => $via:ty),*) => {$(
        impl Bits for $t {
            fn bits(self) -> u64 {
                self as $via as u64
            }
        }
    )*};
}
int_bits!(i8 => i64, u8 => u64, i16 => i64, u16 => u64, i32 => i64, u32 => u64, i64 => i64, u64 => u64);

impl Bits for f32 {
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl Bits for f64 {
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

impl Bits for *const u8 {
    fn bits(self) -> u64 {
        self as usize as u64
    }
}

/// An order-sensitive mix of `salt` and `bits` (FNV-1a over 64-bit words, with the position).
pub fn checksum(salt: u64, bits: &[u64]) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325 ^ salt;
    for (i, &b) in bits.iter().enumerate() {
        h ^= b.rotate_left(i as u32 * 5);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
        h ^= h >> 29;
    }
    h
}

/// `unsafe extern "C" fn` with the twelve argument types of [`arg_values`], returning the
/// checksum of their bits: the widest signature the thunk tests use.
pub type Wide =
    unsafe extern "C" fn(i8, u16, i32, u64, f32, f64, *const u8, i16, u8, i64, u32, f64) -> u64;

/// A [`Wide`] thunk whose result is `checksum(salt(), bits of its twelve arguments)`.
pub fn wide_thunk(
    salt: impl Fn() -> u64 + Send + Sync + 'static,
) -> closure_ffi::BareFn<'static, Wide> {
    closure_ffi::BareFn::new_c(
        move |a0: i8,
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
              a11: f64|
              -> u64 {
            let bits = [
                a0.bits(),
                a1.bits(),
                a2.bits(),
                a3.bits(),
                a4.bits(),
                a5.bits(),
                a6.bits(),
                a7.bits(),
                a8.bits(),
                a9.bits(),
                a10.bits(),
                a11.bits(),
            ];
            checksum(salt(), &bits)
        },
    )
}

/// Calls `f` from C (test-support's `call_c_12`) with the values of [`arg_values`].
///
/// # Safety
/// `f` must be alive and have the [`Wide`] signature.
pub unsafe fn call_wide_from_c(f: Wide) -> u64 {
    let v = arg_values();
    // SAFETY: forwarded from the caller.
    unsafe {
        closure_ffi_test_support::callers::call_c_12(
            f, v.0, v.1, v.2, v.3, v.4, v.5, v.6, v.7, v.8, v.9, v.10, v.11,
        )
    }
}

/// The bits of [`arg_values`], in order, as [`wide_thunk`] sees them.
pub fn arg_bits() -> [u64; 12] {
    let v = arg_values();
    [
        v.0.bits(),
        v.1.bits(),
        v.2.bits(),
        v.3.bits(),
        v.4.bits(),
        v.5.bits(),
        v.6.bits(),
        v.7.bits(),
        v.8.bits(),
        v.9.bits(),
        v.10.bits(),
        v.11.bits(),
    ]
}

// ---- struct signatures ----------------------------------------------------------------

/// What the `Small` test closures compute (from the closure's captured `salt`).
pub fn small_expected(s: Small, k: i32, salt: i32) -> Small {
    Small {
        a: s.a.wrapping_mul(k).wrapping_add(salt),
        b: s.b.wrapping_sub(k) ^ salt,
    }
}

/// What the `Mixed` test closures compute.
pub fn mixed_expected(m: Mixed, k: f32, salt: f64) -> Mixed {
    Mixed {
        f: m.f * k,
        i: m.i.wrapping_add(k as i32),
        d: m.d * f64::from(k) + salt,
    }
}

/// What the `Large` test closures compute.
pub fn large_expected(l: Large, k: u8, salt: i64) -> Large {
    let mut v = l.v;
    for (i, x) in v.iter_mut().enumerate() {
        *x = x
            .wrapping_mul(i64::from(k))
            .wrapping_add(salt)
            .wrapping_add(i as i64);
    }
    Large { v }
}

/// Struct inputs with distinctive values in every field.
pub fn small_input() -> Small {
    Small {
        a: -1_234_567,
        b: 0x7654_3210,
    }
}

/// See [`small_input`].
pub fn mixed_input() -> Mixed {
    Mixed {
        f: 1.5,
        i: -99,
        d: 1.0e100,
    }
}

/// See [`small_input`].
pub fn large_input() -> Large {
    Large {
        v: [1, -2, 0x1122_3344_5566_7788, i64::MIN / 3, 42],
    }
}

// ---- drop tracking ----------------------------------------------------------------------

/// Counts how many times the values it hands out are dropped.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A value that increments this counter when dropped.
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }

    /// How many tokens have been dropped so far.
    pub fn drops(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Increments its [`DropCounter`] when dropped.
pub struct DropToken(Arc<AtomicUsize>);

impl DropToken {
    /// Reads the token (so that a closure has to capture it by value).
    pub fn touch(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// ---- a counting JIT allocator --------------------------------------------------------------

/// Call counters of a [`CountingAlloc`]; each test declares its own `static` so that tests
/// running in parallel do not see each other's calls.
#[derive(Default)]
pub struct AllocCounters {
    pub allocs: AtomicUsize,
    pub releases: AtomicUsize,
    pub protect_rw: AtomicUsize,
    pub protect_rx: AtomicUsize,
    pub flushes: AtomicUsize,
    /// Bytes requested by the last `alloc`.
    pub last_size: AtomicUsize,
    /// `rx` of the last `alloc`.
    pub last_rx: AtomicUsize,
    /// `rx` of the last `release`.
    pub last_released: AtomicUsize,
}

impl AllocCounters {
    pub const fn new() -> Self {
        Self {
            allocs: AtomicUsize::new(0),
            releases: AtomicUsize::new(0),
            protect_rw: AtomicUsize::new(0),
            protect_rx: AtomicUsize::new(0),
            flushes: AtomicUsize::new(0),
            last_size: AtomicUsize::new(0),
            last_rx: AtomicUsize::new(0),
            last_released: AtomicUsize::new(0),
        }
    }

    pub fn allocs(&self) -> usize {
        self.allocs.load(Ordering::SeqCst)
    }

    pub fn releases(&self) -> usize {
        self.releases.load(Ordering::SeqCst)
    }

    /// Allocations not released yet.
    pub fn live(&self) -> usize {
        self.allocs() - self.releases()
    }
}

/// Forwards to `J` and counts every call in `'static` counters.
#[derive(Clone, Copy)]
pub struct CountingAlloc<J: JitAlloc> {
    pub inner: J,
    pub counters: &'static AllocCounters,
}

impl<J: JitAlloc> JitAlloc for CountingAlloc<J> {
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        let (rx, rw) = self.inner.alloc(size)?;
        self.counters.allocs.fetch_add(1, Ordering::SeqCst);
        self.counters.last_size.store(size, Ordering::SeqCst);
        self.counters.last_rx.store(rx as usize, Ordering::SeqCst);
        Ok((rx, rw))
    }

    unsafe fn release(&self, rx: *const u8) -> Result<(), JitAllocError> {
        self.counters.releases.fetch_add(1, Ordering::SeqCst);
        self.counters
            .last_released
            .store(rx as usize, Ordering::SeqCst);
        // SAFETY: forwarded contract: `rx` came from `self.inner.alloc` (through `alloc`).
        unsafe { self.inner.release(rx) }
    }

    unsafe fn protect_jit_memory(&self, ptr: *const u8, size: usize, access: ProtectJitAccess) {
        match access {
            ProtectJitAccess::ReadWrite => &self.counters.protect_rw,
            ProtectJitAccess::ReadExecute => &self.counters.protect_rx,
        }
        .fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwarded contract.
        unsafe { self.inner.protect_jit_memory(ptr, size, access) }
    }

    unsafe fn flush_instruction_cache(&self, rx: *const u8, size: usize) {
        self.counters.flushes.fetch_add(1, Ordering::SeqCst);
        // SAFETY: forwarded contract.
        unsafe { self.inner.flush_instruction_cache(rx, size) }
    }
}

/// An allocator that always fails.
#[derive(Debug, Clone, Copy, Default)]
pub struct FailingAlloc;

impl JitAlloc for FailingAlloc {
    fn alloc(&self, _size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        Err(JitAllocError)
    }

    unsafe fn release(&self, _rx: *const u8) -> Result<(), JitAllocError> {
        panic!("FailingAlloc::release called, but it never allocated anything")
    }
}

/// An allocator whose blocks are 2 bytes past `inner`'s (so never 4-byte aligned), counting
/// the blocks given back: Arm's code needs 4-byte alignment, so the library must release
/// such a block and refuse it.
pub struct MisalignedAlloc<J> {
    pub inner: J,
    pub releases: AtomicUsize,
}

impl<J> MisalignedAlloc<J> {
    pub fn new(inner: J) -> Self {
        Self {
            inner,
            releases: AtomicUsize::new(0),
        }
    }
}

impl<J: JitAlloc> JitAlloc for MisalignedAlloc<J> {
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        let (rx, rw) = self.inner.alloc(size + 2)?;
        Ok((rx.wrapping_add(2), rw.wrapping_add(2)))
    }

    unsafe fn release(&self, rx: *const u8) -> Result<(), JitAllocError> {
        self.releases.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `rx - 2` came from `self.inner.alloc` (see `alloc`); released once, as
        // the caller promises for `rx`.
        unsafe { self.inner.release(rx.wrapping_sub(2)) }
    }
}
