//! A program-provided global JIT allocator (feature `global_jit_alloc` without
//! `default_jit_alloc`): a slab over one read-write-execute mapping (`mmap`, or `VirtualAlloc` on Windows), registered with
//! `global_jit_alloc!`, must be what the constructors without `_in` use.
//!
//! Run: `cargo test --no-default-features --features global_jit_alloc,safe_jit,std
//! --test global_jit_alloc` (the default features compile this file to nothing).

#![cfg(all(feature = "global_jit_alloc", not(feature = "default_jit_alloc")))]

use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use closure_ffi::traits::FnPtr;
use closure_ffi::{BareFn, BareFnMut, BareFnOnce, GlobalJitAlloc, JitAlloc, JitAllocError};
use closure_ffi_test_support::callers::call_c_3;

/// One read-write-execute mapping of `len` bytes, or null.
#[cfg(unix)]
fn rwx_region(len: usize) -> *mut c_void {
    use std::ffi::{c_int, c_long};

    // Linux x86 / x86_64 values (asm-generic).
    const PROT_READ: c_int = 0x1;
    const PROT_WRITE: c_int = 0x2;
    const PROT_EXEC: c_int = 0x4;
    const MAP_PRIVATE: c_int = 0x02;
    const MAP_ANONYMOUS: c_int = 0x20;
    const MAP_FAILED: *mut c_void = !0usize as *mut c_void;

    extern "C" {
        // `off_t` is `long` on both Linux x86 targets (without _FILE_OFFSET_BITS=64).
        fn mmap(
            addr: *mut c_void,
            len: usize,
            prot: c_int,
            flags: c_int,
            fd: c_int,
            offset: c_long,
        ) -> *mut c_void;
    }

    // SAFETY: an anonymous private mapping at an address of the kernel's choice.
    let p = unsafe {
        mmap(
            core::ptr::null_mut(),
            len,
            PROT_READ | PROT_WRITE | PROT_EXEC,
            MAP_PRIVATE | MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == MAP_FAILED {
        core::ptr::null_mut()
    } else {
        p
    }
}

/// One read-write-execute mapping of `len` bytes, or null.
#[cfg(windows)]
fn rwx_region(len: usize) -> *mut c_void {
    const MEM_COMMIT: u32 = 0x1000;
    const MEM_RESERVE: u32 = 0x2000;
    const PAGE_EXECUTE_READWRITE: u32 = 0x40;

    #[link(name = "kernel32")]
    extern "system" {
        fn VirtualAlloc(addr: *mut c_void, len: usize, kind: u32, protect: u32) -> *mut c_void;
    }

    // SAFETY: a fresh committed region at an address of the system's choice.
    unsafe {
        VirtualAlloc(
            core::ptr::null_mut(),
            len,
            MEM_COMMIT | MEM_RESERVE,
            PAGE_EXECUTE_READWRITE,
        )
    }
}

const SLOT: usize = 256;
const SLOTS: usize = 256;

/// Fixed-size slots in one RWX mapping (so `rx == rw`), counting every call.
struct SlabJitAlloc {
    region: OnceLock<usize>,
    /// `true` for slots in use.
    used: Mutex<Vec<bool>>,
    allocs: AtomicUsize,
    releases: AtomicUsize,
    bad_release: AtomicBool,
}

impl SlabJitAlloc {
    const fn new() -> Self {
        Self {
            region: OnceLock::new(),
            used: Mutex::new(Vec::new()),
            allocs: AtomicUsize::new(0),
            releases: AtomicUsize::new(0),
            bad_release: AtomicBool::new(false),
        }
    }

    fn region(&self) -> Result<usize, JitAllocError> {
        let base = *self
            .region
            .get_or_init(|| rwx_region(SLOT * SLOTS) as usize);
        if base == 0 {
            Err(JitAllocError)
        } else {
            Ok(base)
        }
    }

    /// Whether `ptr` lies inside the mapping.
    fn contains(&self, ptr: *const ()) -> bool {
        self.region
            .get()
            .is_some_and(|&b| (b..b + SLOT * SLOTS).contains(&(ptr as usize)))
    }
}

impl JitAlloc for SlabJitAlloc {
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        if size > SLOT {
            return Err(JitAllocError);
        }
        let base = self.region()?;
        let mut used = self.used.lock().map_err(|_| JitAllocError)?;
        if used.is_empty() {
            used.resize(SLOTS, false);
        }
        let i = used.iter().position(|u| !u).ok_or(JitAllocError)?;
        used[i] = true;
        self.allocs.fetch_add(1, Ordering::SeqCst);
        let p = (base + i * SLOT) as *mut u8;
        Ok((p.cast_const(), p))
    }

    unsafe fn release(&self, rx: *const u8) -> Result<(), JitAllocError> {
        self.releases.fetch_add(1, Ordering::SeqCst);
        let base = self.region()?;
        let off = (rx as usize).wrapping_sub(base);
        let mut used = self.used.lock().map_err(|_| JitAllocError)?;
        match used.get_mut(off / SLOT) {
            Some(slot) if off % SLOT == 0 && *slot => {
                *slot = false;
                Ok(())
            }
            _ => {
                self.bad_release.store(true, Ordering::SeqCst);
                Err(JitAllocError)
            }
        }
    }
}

static MY_ALLOC: SlabJitAlloc = SlabJitAlloc::new();
closure_ffi::global_jit_alloc!(MY_ALLOC);

/// The tests count calls on the one global allocator: run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn counts() -> (usize, usize) {
    (
        MY_ALLOC.allocs.load(Ordering::SeqCst),
        MY_ALLOC.releases.load(Ordering::SeqCst),
    )
}

#[test]
fn constructors_without_in_use_the_registered_allocator() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (a0, r0) = counts();

    let k = 0x1000_i32;
    let f = BareFn::new_c(move |a: i8, b: u16, c: i32| -> u64 {
        (i64::from(a) + i64::from(b) + i64::from(c) + i64::from(k)) as u64
    });
    assert_eq!(
        counts(),
        (a0 + 1, r0),
        "BareFn::new_c allocated from MY_ALLOC"
    );
    let bare = f.bare();
    assert!(
        MY_ALLOC.contains(bare.to_ptr()),
        "the thunk lives in MY_ALLOC's mapping"
    );
    // SAFETY: `f` is alive; the arguments match the signature.
    unsafe {
        assert_eq!(bare(-1, 2, 3), 0x1004, "direct call");
        assert_eq!(call_c_3(bare, -1, 2, 3), 0x1004, "called from C");
    }

    let mut total = 0u32;
    let g = BareFnMut::new_c(|x: u32| {
        total += x;
        total
    });
    assert_eq!(
        counts(),
        (a0 + 2, r0),
        "BareFnMut::new_c allocated from MY_ALLOC"
    );
    assert!(
        MY_ALLOC.contains(g.bare().to_ptr()),
        "the thunk lives in MY_ALLOC's mapping"
    );
    // SAFETY: `g` is alive; calls are sequential.
    unsafe {
        assert_eq!(g.bare()(4), 4, "BareFnMut call 1");
        assert_eq!(g.bare()(5), 9, "BareFnMut call 2");
    }

    drop(f);
    drop(g);
    assert_eq!(
        counts(),
        (a0 + 2, r0 + 2),
        "dropping the owners released both blocks"
    );
    assert_eq!(total, 9);

    // `into_bare`: the block goes back to MY_ALLOC during the call.
    let label = String::from("abc");
    let h = BareFnOnce::new_c(move |x: u32| x + label.len() as u32);
    assert_eq!(
        counts(),
        (a0 + 3, r0 + 2),
        "BareFnOnce::new_c allocated from MY_ALLOC"
    );
    let once = h.into_bare();
    // SAFETY: the single call of an `into_bare` pointer.
    assert_eq!(unsafe { once(1) }, 4, "BareFnOnce call");
    assert_eq!(
        counts(),
        (a0 + 3, r0 + 3),
        "the call released the FnOnce thunk"
    );

    // A zero-sized closure allocates nothing.
    let z = BareFn::new_c(|x: u32| x + 1);
    // SAFETY: `z` is alive.
    assert_eq!(unsafe { z.bare()(1) }, 2, "ZST call");
    assert_eq!(
        counts(),
        (a0 + 3, r0 + 3),
        "a zero-sized closure does not allocate"
    );
    assert!(
        !MY_ALLOC.bad_release.load(Ordering::SeqCst),
        "no invalid or double release"
    );
}

#[test]
fn global_jit_alloc_handle_forwards_to_the_registered_allocator() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (a0, r0) = counts();
    let (rx, rw) = GlobalJitAlloc.alloc(64).expect("MY_ALLOC has room");
    assert_eq!(rx, rw.cast_const(), "MY_ALLOC maps a single view");
    assert!(
        MY_ALLOC.contains(rx.cast()),
        "GlobalJitAlloc returned MY_ALLOC's memory"
    );
    assert_eq!(
        counts(),
        (a0 + 1, r0),
        "GlobalJitAlloc::alloc reached MY_ALLOC"
    );
    // SAFETY: `rx` came from `GlobalJitAlloc.alloc` and is not used.
    unsafe { GlobalJitAlloc.release(rx) }.expect("release");
    assert_eq!(
        counts(),
        (a0 + 1, r0 + 1),
        "GlobalJitAlloc::release reached MY_ALLOC"
    );
    assert!(
        !MY_ALLOC.bad_release.load(Ordering::SeqCst),
        "no invalid or double release"
    );

    // Many thunks at once, all from the slab, all released.
    let thunks: Vec<_> = (0..100u32)
        .map(|i| BareFn::new_c(move |x: u32| x * i))
        .collect();
    for (i, f) in (0u32..).zip(&thunks) {
        assert!(
            MY_ALLOC.contains(f.bare().to_ptr()),
            "thunk {i} in MY_ALLOC's mapping"
        );
        // SAFETY: `f` is alive.
        assert_eq!(unsafe { f.bare()(3) }, 3 * i, "thunk {i}");
    }
    drop(thunks);
    assert_eq!(
        counts(),
        (a0 + 101, r0 + 101),
        "100 thunks allocated and released"
    );
}
