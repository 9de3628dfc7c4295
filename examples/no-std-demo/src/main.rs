//! A `no_std` program using closure-ffi on bare metal (`x86_64-unknown-none`): the program
//! provides the heap (`#[global_allocator]`) and the executable memory
//! (`global_jit_alloc!`), as an embedded or kernel-mode user would.
//!
//! Build: `cargo build --manifest-path examples/no-std-demo/Cargo.toml --target x86_64-unknown-none`.
//! There is no OS to run it on; building and linking it is the proof. Capstone's C code
//! needs a handful of C library functions, which `libc_shims` provides here.

#![no_std]
#![no_main]

extern crate alloc;

mod libc_shims;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

use closure_ffi::jit_alloc::{JitAlloc, JitAllocError};
use closure_ffi::BareFnMut;

/// A bump arena over a static buffer, shared by the heap and the JIT allocator.
struct Arena<const N: usize> {
    next: AtomicUsize,
    bytes: UnsafeCell<[u8; N]>,
}

// SAFETY: `next` hands out disjoint ranges atomically; nothing else touches `bytes`.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Arena<N> {
    const fn new() -> Self {
        Self {
            next: AtomicUsize::new(0),
            bytes: UnsafeCell::new([0; N]),
        }
    }

    fn bump(&self, size: usize, align: usize) -> *mut u8 {
        let base = self.bytes.get() as usize;
        let mut cur = self.next.load(Ordering::Relaxed);
        loop {
            let start = (base + cur).next_multiple_of(align) - base;
            let end = start + size;
            if end > N {
                return core::ptr::null_mut();
            }
            match self
                .next
                .compare_exchange_weak(cur, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return (base + start) as *mut u8,
                Err(now) => cur = now,
            }
        }
    }
}

struct Heap;
static HEAP_ARENA: Arena<{ 64 * 1024 }> = Arena::new();

// SAFETY: `bump` returns unique, suitably aligned blocks or null; freeing is a no-op.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP_ARENA.bump(layout.size(), layout.align())
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static GLOBAL: Heap = Heap;

/// Executable memory: on this bare-metal target, memory is executable as mapped by the
/// loader (identity, no W^X), so one view serves for writing and executing.
struct Code;
static CODE_ARENA: Arena<{ 16 * 1024 }> = Arena::new();

impl JitAlloc for Code {
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        let p = CODE_ARENA.bump(size, 16);
        if p.is_null() {
            Err(JitAllocError)
        } else {
            Ok((p, p))
        }
    }

    unsafe fn release(&self, _rx: *const u8) -> Result<(), JitAllocError> {
        Ok(())
    }
}

static CODE: Code = Code;
closure_ffi::global_jit_alloc!(CODE);

/// What a C library without a user-data pointer would do with the callback.
fn call_twice(cb: unsafe extern "C" fn(u32) -> u32) -> u32 {
    // SAFETY: `cb` is a live thunk (see `_start`).
    unsafe { cb(1) + cb(2) }
}

#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
    let mut calls = 0u32;
    let offset = 40;
    let result = match BareFnMut::try_new_c(|x: u32| {
        calls += 1;
        x + offset
    }) {
        Ok(thunk) => call_twice(thunk.bare()),
        Err(_) => 0,
    };
    let _ = core::hint::black_box((result, calls));
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
