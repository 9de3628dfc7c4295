//! [`PoolJitAlloc`]: the built-in executable-memory allocator.
//!
//! Thunks are small (typically 24 to 100 bytes) and are created and dropped often, so the
//! allocator serves them from size-classed pools of fixed-size slots cut from big chunks,
//! instead of asking the OS (or jit-allocator2: a global lock and a bitmap search) every
//! time.
//!
//! # Layout
//!
//! Memory is mapped in chunks of [`CHUNK_SIZE`] bytes. A chunk is cut into slots of one size
//! class when it is created, and every slot starts with a [`BlockHeader`]. Requests too
//! large for the biggest class get a mapping of their own (whole pages), with the same header
//! in front.
//!
//! ```text
//!  chunk (CHUNK_SIZE bytes, every slot of one size class; page-aligned when near,
//!         JIT_GRANULARITY-aligned from jit-allocator2)
//!  +----------------+----------------+----------------+-----+----------------+
//!  | slot 0         | slot 1         | slot 2         | ... | slot n - 1     |
//!  +----------------+----------------+----------------+-----+----------------+
//!
//!  slot (CLASS_SLOT_SIZES[class] bytes) or large block (HEADER_SIZE + size, whole pages)
//!  offset 0      4        8                 16
//!  +-------------+--------+-----------------+----------------------------------+
//!  | tag: u32    | class  | rw_delta: isize | code: the pointer `alloc` returns |
//!  +-------------+--------+-----------------+----------------------------------+
//!  \______________ BlockHeader (16 bytes) _/ ^ rx (and rw at the same offset)
//! ```
//!
//! The header is written once, through the writable view, when the chunk (or large block)
//! is created, before any of it is handed out. It is read back through the executable view
//! (which is readable) by `release`, which gets only the `rx` pointer:
//!
//! - `tag` identifies this allocator instance; anything else (a foreign pointer, a block of
//!   another `PoolJitAlloc`) is rejected with `Err(JitAllocError)`. This check is
//!   best-effort: only pointers returned by `alloc` may be passed to `release`.
//! - `class` is the size class of a slot, or [`LARGE_CLASS`] for a large block.
//! - `rw_delta` is `rw - rx`, so that `release` recovers the writable view of the slot.
//!
//! # Placement: near the program's code
//!
//! Every call of a thunk ends with an indirect jump back into its template, in the program's
//! own code. x86 branch predictors handle a jump between far-apart addresses poorly: a thunk
//! mapped where `mmap` puts memory by default (`0x7f...`, 40 TiB from a PIE executable at
//! `0x55...`) was measured at 4.9 to 5.6 ns per call, the same thunk within 2 GiB of its
//! template at 2.35 to 2.45 ns, and a direct call of an equivalent function at 2.1 to 2.3 ns
//! (x86_64 Linux, 200M calls each).
//!
//! So on Linux ([`near`], `src/jit/pool/near_linux.rs`) the pool maps every chunk and large
//! block itself, within 1.5 GiB of a reference address in closure-ffi's own code: the first
//! free address of a walk outwards from it (below the image first, then above), chunks packed
//! side by side. This assumes that the templates are linked into the same image as
//! closure-ffi, which is the usual static linking of an executable or of a cdylib (a cdylib
//! gets its memory near itself, where its templates are). On i686 every address is within
//! rel32 reach anyway; placement does no harm there. On aarch64 the window is 96 MiB: there
//! it is also what lets a thunk's branches out of its prologue be direct `B`s (±128 MiB);
//! a thunk placed further away (the jit-allocator2 fallback) whose prologue has such a
//! branch fails to be created with `RelocError::OutOfRange`.
//!
//! If no address in reach is free, the kernel refuses, or on other OSes, chunks come from
//! jit-allocator2 and large blocks from its `virtual_memory` functions, anywhere. Each chunk
//! and large block records where it came from, to be given back the same way.
//!
//! FIXME(jit-allocator2 0.2.9, no upstream issue filed yet): after some `release` calls,
//! `JitAllocator::alloc` hands out memory that is still allocated (a 616-byte
//! alloc/release mix overlaps live blocks within 40 calls). The fault is in
//! `BitVectorRangeIterator::next_range`: when a free run continues into the next 32-bit
//! bitmap word that is not entirely free, it takes `trailing_zeros` of the free mask where
//! it needs that of its complement. This module therefore only ever *allocates* chunks from
//! the `JitAllocator`, all of the same size and a whole number of bitmap words, and
//! releases them only when the allocator is dropped. The free space of every jit-allocator2
//! block then stays one run of entirely free words at its end, which never takes that path.
//! `chunks_never_overlap` guards this.
//!
//! # Free lists live outside the JIT memory
//!
//! Nothing is written into code memory after a slot is handed out: free slots are kept as
//! `(rx, rw)` pairs in ordinary heap memory, never linked through the slots themselves.
//! (On x86, a store into a page that other cores execute from costs them a
//! self-modifying-code pipeline clear.)
//!
//! Each thread keeps a small stack of free slots per class ([`CACHE_CAPACITY`] entries) for
//! the instance it used last; `alloc` pops from it and `release` pushes onto it without any
//! lock or atomic operation. An empty stack is refilled, and a full one flushed, half a stack
//! at a time from/to the instance's global free list for that class (behind a `Mutex`). A
//! slot may be released by any thread. When a thread exits, its stack goes back to the
//! global lists.
//!
//! # Memory is kept, not returned
//!
//! Chunks are not given back to the OS while the allocator lives (large blocks are, by
//! `release`): released slots are reused, so memory stays flat under create/drop churn, at
//! the level of the peak number of live thunks. The process-wide instance ([`global`]) is
//! never freed. A `PoolJitAlloc` that is dropped unmaps its memory once no thread cache
//! refers to it any more, and only if every block it handed out has been released;
//! otherwise the memory is leaked so that code that is still referenced stays valid.
//!
//! # W^X
//!
//! With dual mapping (the default of [`PoolJitAlloc::new`]), the same memory is mapped
//! twice: `rx` is readable and executable, `rw` readable and writable, at different
//! addresses, and no page is ever writable and executable at once. Near the code these are
//! two mappings of one memfd (or unlinked shared file); otherwise jit-allocator2 makes them.
//! [`PoolJitAlloc::with_dual_mapping(false)`](PoolJitAlloc::with_dual_mapping) uses a single
//! read-write-execute mapping (`rx == rw`), for hosts where dual mapping is unavailable.

use core::cell::UnsafeCell;
use core::fmt;
use core::mem::{align_of, offset_of, size_of};
use core::ptr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use jit_allocator2::virtual_memory::{self, DualMapping, MemoryFlags};
use jit_allocator2::{JitAllocator, JitAllocatorOptions, ResetPolicy};

use super::{JitAlloc, JitAllocError};

/// Whether [`PoolJitAlloc::new`] (and so the global allocator) uses dual mapping: everywhere
/// but on 32-bit Arm.
///
/// On 32-bit Arm a thunk slot is written through the RW view and, once released and reused,
/// rewritten. Under qemu-arm (the only place this target is tested: 10.0.2 and 7.2 alike) a
/// write through the other view of a dual mapping does not invalidate qemu's translation of
/// the RX view, and ARMv7 user code has no cache-maintenance instruction that qemu could
/// hook (the `cacheflush` system call that closure-ffi makes does not drop the translation
/// either), so a reused slot ran the previous thunk's code. A single read-write-execute
/// mapping is written where it executes, which qemu tracks. On hardware both work: the
/// kernel's `cacheflush` maintains the caches by the RX addresses, so
/// [`PoolJitAlloc::with_dual_mapping(true)`](PoolJitAlloc::with_dual_mapping) remains
/// available there, untested.
pub const DUAL_MAPPING_BY_DEFAULT: bool = !cfg!(target_arch = "arm");

/// Whether the pool maps its memory near the program's code (see "Placement"): everywhere
/// but on 32-bit Arm, whose thunks leave their copy only through absolute jumps (`ldr pc`
/// from the copy's literal pool, [`crate::arch::arm::reloc`]) and need no placement.
const NEAR_BY_DEFAULT: bool = !cfg!(target_arch = "arm");

// Mappings near the program's code (see "Placement" above): one implementation per OS, both
// with the same items.
#[cfg_attr(target_os = "linux", path = "pool/near_linux.rs")]
#[cfg_attr(not(target_os = "linux"), path = "pool/near_unsupported.rs")]
mod near;

use near::NearMapping;

/// The header in front of every block handed out (see the [module docs](self) for the
/// layout).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct BlockHeader {
    /// [`TAG_MAGIC`] xor the owning instance's id.
    tag: u32,
    /// The [`SizeClass`] of a pool slot, or [`LARGE_CLASS`].
    class: u32,
    /// `rw - rx` (wrapping), the same for every byte of the block.
    rw_delta: isize,
}

/// Bytes in front of the pointer returned by `alloc`.
const HEADER_SIZE: usize = size_of::<BlockHeader>();
/// Alignment of every slot and of every pointer returned by `alloc`.
const HEADER_ALIGN: usize = align_of::<BlockHeader>();

const _: () = assert!(HEADER_SIZE == 16);
const _: () = assert!(HEADER_ALIGN == 16);
const _: () = assert!(offset_of!(BlockHeader, tag) == 0);
const _: () = assert!(offset_of!(BlockHeader, class) == 4);
const _: () = assert!(offset_of!(BlockHeader, rw_delta) == 8);

/// Xored with an instance id to form a header tag.
const TAG_MAGIC: u32 = 0xC1F0_7A9B;
/// `BlockHeader::class` of a large block (a mapping of its own).
const LARGE_CLASS: u32 = SizeClass::ALL.len() as u32;

/// Number of size classes.
const NUM_CLASSES: usize = SizeClass::ALL.len();
/// Slot size of each class, header included (the code gets `slot - HEADER_SIZE` bytes).
const CLASS_SLOT_SIZES: [usize; NUM_CLASSES] = [64, 128, 256, 512];
/// Bytes per chunk: a whole number of pages (of 4, 16 or 64 KiB), and of jit-allocator2
/// bitmap words. 64 KiB holds 1024 slots of the smallest class, for one `mmap` pair.
const CHUNK_SIZE: usize = 64 * 1024;
/// jit-allocator2's allocation granularity (its default, which we keep) and the bits per
/// word of its bitmap: chunks must cover whole words (see the FIXME in the module docs).
const JIT_GRANULARITY: usize = 64;
const JIT_BITMAP_WORD_BITS: usize = 32;
/// Free slots a thread caches per class.
const CACHE_CAPACITY: usize = 32;
/// Slots moved between a thread cache and a global free list at a time.
const CACHE_BATCH: usize = CACHE_CAPACITY / 2;

const _: () = {
    let mut i = 0;
    while i < NUM_CLASSES {
        let slot = CLASS_SLOT_SIZES[i];
        assert!(slot > HEADER_SIZE && slot % HEADER_ALIGN == 0);
        assert!(CHUNK_SIZE % slot == 0);
        assert!(i == 0 || slot > CLASS_SLOT_SIZES[i - 1]);
        i += 1;
    }
    assert!(CACHE_BATCH >= 1 && CACHE_BATCH < CACHE_CAPACITY);
    assert!(CHUNK_SIZE % (JIT_GRANULARITY * JIT_BITMAP_WORD_BITS) == 0);
    assert!(JIT_GRANULARITY % HEADER_ALIGN == 0);
};

/// A size class; the enum keeps every index into per-class arrays in range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum SizeClass {
    B64 = 0,
    B128 = 1,
    B256 = 2,
    B512 = 3,
}

impl SizeClass {
    const ALL: [SizeClass; 4] = [Self::B64, Self::B128, Self::B256, Self::B512];

    /// The smallest class whose slots hold `size` bytes of code, if any.
    #[inline(always)]
    fn for_size(size: usize) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|class| size <= class.slot_size() - HEADER_SIZE)
    }

    /// The class stored in a header, if it is a pool class.
    #[inline(always)]
    fn from_header(class: u32) -> Option<Self> {
        match class {
            0 => Some(Self::B64),
            1 => Some(Self::B128),
            2 => Some(Self::B256),
            3 => Some(Self::B512),
            _ => None,
        }
    }

    #[inline(always)]
    fn index(self) -> usize {
        self as usize
    }

    #[inline(always)]
    fn slot_size(self) -> usize {
        CLASS_SLOT_SIZES[self.index()]
    }
}

/// A free slot: both views of its code area, as `alloc` returns them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Slot {
    rx: *const u8,
    rw: *mut u8,
}

impl Slot {
    const NULL: Slot = Slot {
        rx: ptr::null(),
        rw: ptr::null_mut(),
    };
}

// SAFETY: a `Slot` is two addresses of memory owned by a `Shared`, which outlives every copy
// (thread caches hold an `Arc` to it); nothing about them is tied to the thread that made
// them, and whoever holds a free slot has exclusive use of it.
unsafe impl Send for Slot {}

/// A class's global free list.
struct FreeList {
    /// Free slots. Invariant: `free.capacity() >= carved`, so returning slots never
    /// allocates (and cannot fail).
    free: Vec<Slot>,
    /// Slots of this class cut from chunks so far.
    carved: usize,
}

/// The chunks and the live large blocks.
struct Backing {
    /// Allocates chunks only (see the FIXME in the module docs), when no near mapping can be
    /// made. Taken from [`RECYCLED`] (or made) on first use.
    jit: Option<Box<JitAllocator>>,
    /// Every chunk, to give them back when the allocator is dropped.
    chunks: Vec<Chunk>,
    /// Large blocks handed out and not yet released.
    large: Vec<LargeBlock>,
}

/// A chunk, by where it came from.
enum Chunk {
    /// A mapping of its own near the program's code.
    Near(NearMapping),
    /// Allocated from `Backing::jit`, by its rx address.
    Jit(*const u8),
}

impl Chunk {
    /// The executable view.
    #[cfg(test)]
    fn rx(&self) -> *const u8 {
        match self {
            Chunk::Near(mapping) => mapping.rx(),
            Chunk::Jit(rx) => *rx,
        }
    }
}

/// A mapping of its own for a request larger than every class, by where it came from.
enum LargeBlock {
    /// A mapping near the program's code.
    Near(NearMapping),
    /// From jit-allocator2's `virtual_memory` functions.
    Far {
        /// Both views of the mapping.
        views: Slot,
        /// Bytes mapped (whole pages).
        size: usize,
    },
}

impl LargeBlock {
    /// Maps `size` bytes (rounded up to whole pages) with the views `dual_mapping` asks for,
    /// near the code if `near` and possible.
    fn map(size: usize, dual_mapping: bool, near: bool) -> Result<Self, JitAllocError> {
        let page = (virtual_memory::info().page_size as usize).max(1);
        let size = size.checked_next_multiple_of(page).ok_or(JitAllocError)?;
        if let Some(mapping) = near.then(|| NearMapping::map(size, dual_mapping)).flatten() {
            return Ok(LargeBlock::Near(mapping));
        }
        let access = MemoryFlags::from(MemoryFlags::ACCESS_RWX);
        let views = if dual_mapping {
            let mapping =
                virtual_memory::alloc_dual_mapping(size, access).map_err(|_| JitAllocError)?;
            Slot {
                rx: mapping.rx,
                rw: mapping.rw,
            }
        } else {
            let rwx = virtual_memory::alloc(size, access).map_err(|_| JitAllocError)?;
            Slot { rx: rwx, rw: rwx }
        };
        Ok(LargeBlock::Far { views, size })
    }

    /// Both views; the header is at `rx`.
    fn views(&self) -> Slot {
        match self {
            LargeBlock::Near(mapping) => Slot {
                rx: mapping.rx(),
                rw: mapping.rw(),
            },
            LargeBlock::Far { views, .. } => *views,
        }
    }

    /// Unmaps the block.
    ///
    /// # Safety
    /// No one may use the block afterwards.
    unsafe fn unmap(self) {
        match self {
            // SAFETY: by the caller's contract.
            LargeBlock::Near(mapping) => unsafe { mapping.unmap() },
            LargeBlock::Far { views, size } => {
                let mut mapping = DualMapping {
                    rx: views.rx,
                    rw: views.rw,
                };
                // Unmaps `rx`, and `rw` if it differs. An error leaves (part of) the mapping
                // in place: a leak, not unsoundness.
                let _ = virtual_memory::release_dual_mapping(&mut mapping, size);
            }
        }
    }
}

// SAFETY: `JitAllocator` is `Send` (upstream `unsafe impl`); the `Jit` chunk addresses point
// into mappings that `jit` owns, and near chunks and large blocks are mappings owned by this
// value; none of it is tied to a thread.
unsafe impl Send for Backing {}

/// The state of one allocator, shared by its handle and by the thread caches that hold its
/// slots.
struct Shared {
    /// The `BlockHeader::tag` of this instance's blocks.
    tag: u32,
    dual_mapping: bool,
    /// Map chunks and large blocks near the code when possible; `false` only in tests of
    /// the jit-allocator2 path.
    near: bool,
    /// Lock order: a class's list, then `backing`.
    classes: [Mutex<FreeList>; NUM_CLASSES],
    backing: Mutex<Backing>,
}

/// Where `release` found a block to belong.
enum Block {
    Slot(SizeClass, Slot),
    /// A large block, by the rx address of its header.
    Large(*const u8),
}

impl Shared {
    fn new(dual_mapping: bool, near: bool) -> Self {
        static NEXT_ID: AtomicU32 = AtomicU32::new(1);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let free_list = || {
            Mutex::new(FreeList {
                free: Vec::new(),
                carved: 0,
            })
        };
        Shared {
            tag: TAG_MAGIC ^ id,
            dual_mapping,
            near,
            classes: [free_list(), free_list(), free_list(), free_list()],
            backing: Mutex::new(Backing {
                jit: None,
                chunks: Vec::new(),
                large: Vec::new(),
            }),
        }
    }

    /// No critical section here can panic, so a poisoned lock still guards a consistent
    /// value: recover it.
    fn lock_class(&self, class: SizeClass) -> MutexGuard<'_, FreeList> {
        self.classes[class.index()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_backing(&self) -> MutexGuard<'_, Backing> {
        self.backing.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves up to `out.len()` free slots of `class` into `out`, carving a new chunk if the
    /// list is empty; returns how many (at least one on success).
    fn take_batch(&self, class: SizeClass, out: &mut [Slot]) -> Result<usize, JitAllocError> {
        let mut list = self.lock_class(class);
        if list.free.is_empty() {
            self.carve_chunk(class, &mut list)?;
        }
        let n = out.len().min(list.free.len());
        let start = list.free.len() - n;
        for (dst, src) in out.iter_mut().zip(list.free.drain(start..)) {
            *dst = src;
        }
        Ok(n)
    }

    /// Returns free slots of `class` to the global list.
    fn give_back(&self, class: SizeClass, slots: impl IntoIterator<Item = Slot>) {
        // Within capacity (`FreeList` invariant): no allocation, no failure.
        self.lock_class(class).free.extend(slots);
    }

    /// Maps a chunk, writes the header of every slot and puts all the slots on `list`.
    #[cold]
    fn carve_chunk(&self, class: SizeClass, list: &mut FreeList) -> Result<(), JitAllocError> {
        let slot_size = class.slot_size();
        let count = CHUNK_SIZE / slot_size;
        list.free.try_reserve(count).map_err(|_| JitAllocError)?;
        let (rx, rw) = self
            .lock_backing()
            .alloc_chunk(self.dual_mapping, self.near)?;
        let rw_delta = rw_delta(rx, rw);
        jit_allocator2::protect_jit_memory(jit_allocator2::ProtectJitAccess::ReadWrite);
        // Reverse order, so that the stack hands out ascending addresses.
        for i in (0..count).rev() {
            let offset = i * slot_size;
            let header = BlockHeader {
                tag: self.tag,
                class: class as u32,
                rw_delta,
            };
            // SAFETY: `offset + slot_size <= CHUNK_SIZE`, so the header lies in the chunk's
            // writable view; `rw` is `HEADER_ALIGN`-aligned (checked by `alloc_chunk`) and so
            // is `offset`. The chunk is new: no one else reads, writes or executes it yet.
            unsafe { rw.add(offset).cast::<BlockHeader>().write(header) };
            list.free.push(Slot {
                rx: rx.wrapping_add(offset + HEADER_SIZE),
                rw: rw.wrapping_add(offset + HEADER_SIZE),
            });
        }
        jit_allocator2::protect_jit_memory(jit_allocator2::ProtectJitAccess::ReadExecute);
        list.carved += count;
        Ok(())
    }

    /// Allocates a block for a request larger than every class.
    #[cold]
    fn alloc_large(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        let total = size.checked_add(HEADER_SIZE).ok_or(JitAllocError)?;
        let block = LargeBlock::map(total, self.dual_mapping, self.near)?;
        let Slot { rx, rw } = block.views();
        let header = BlockHeader {
            tag: self.tag,
            class: LARGE_CLASS,
            rw_delta: rw_delta(rx, rw),
        };
        jit_allocator2::protect_jit_memory(jit_allocator2::ProtectJitAccess::ReadWrite);
        // SAFETY: the mapping is `total >= HEADER_SIZE` bytes, page-aligned, new and not
        // handed out yet.
        unsafe { rw.cast::<BlockHeader>().write(header) };
        jit_allocator2::protect_jit_memory(jit_allocator2::ProtectJitAccess::ReadExecute);
        let mut backing = self.lock_backing();
        if backing.large.try_reserve(1).is_err() {
            drop(backing);
            // SAFETY: the block was never handed out.
            unsafe { block.unmap() };
            return Err(JitAllocError);
        }
        backing.large.push(block);
        Ok((rx.wrapping_add(HEADER_SIZE), rw.wrapping_add(HEADER_SIZE)))
    }

    /// Releases a large block by the rx address of its header; `Err` if it is not a live
    /// large block of this allocator.
    ///
    /// # Safety
    /// No one may use the block afterwards.
    #[cold]
    unsafe fn release_large(&self, base: *const u8) -> Result<(), JitAllocError> {
        let block = {
            let mut backing = self.lock_backing();
            let index = backing
                .large
                .iter()
                .position(|block| block.views().rx == base)
                .ok_or(JitAllocError)?;
            backing.large.swap_remove(index)
        };
        // SAFETY: the block is live and ours (found above), and by the caller's contract no
        // one uses it any more.
        unsafe { block.unmap() };
        Ok(())
    }

    /// Finds the block that `rx` (a pointer returned by `alloc`) belongs to.
    ///
    /// # Safety
    /// The `HEADER_SIZE` bytes before `rx` must be readable; they are when `rx` came from
    /// `alloc` on any `PoolJitAlloc` and has not been released.
    #[inline(always)]
    unsafe fn block_of(&self, rx: *const u8) -> Result<Block, JitAllocError> {
        // Also rejects null.
        if rx.addr() % HEADER_ALIGN != 0 || rx.addr() < HEADER_SIZE {
            return Err(JitAllocError);
        }
        let base = rx.wrapping_sub(HEADER_SIZE);
        // SAFETY: readable by the caller's contract, and aligned (checked above).
        let header = unsafe { base.cast::<BlockHeader>().read() };
        if header.tag != self.tag {
            return Err(JitAllocError);
        }
        if let Some(class) = SizeClass::from_header(header.class) {
            // The writable view is another mapping; its provenance was exposed when the
            // header was written (`rw_delta`).
            let rw =
                ptr::with_exposed_provenance_mut(rx.addr().wrapping_add_signed(header.rw_delta));
            Ok(Block::Slot(class, Slot { rx, rw }))
        } else if header.class == LARGE_CLASS {
            Ok(Block::Large(base))
        } else {
            Err(JitAllocError)
        }
    }
}

impl Backing {
    /// Maps a chunk of `CHUNK_SIZE` bytes (near the code if `near` and possible, else from
    /// jit-allocator2) and records it; `(rx, rw)`, both aligned for headers.
    fn alloc_chunk(
        &mut self,
        dual_mapping: bool,
        near: bool,
    ) -> Result<(*const u8, *mut u8), JitAllocError> {
        self.chunks.try_reserve(1).map_err(|_| JitAllocError)?;
        if let Some(mapping) = near
            .then(|| NearMapping::map(CHUNK_SIZE, dual_mapping))
            .flatten()
        {
            // Page-aligned, hence aligned for headers.
            let views = (mapping.rx(), mapping.rw());
            self.chunks.push(Chunk::Near(mapping));
            return Ok(views);
        }
        let jit = self.jit.get_or_insert_with(|| recycled_jit(dual_mapping));
        let (rx, rw) = jit.alloc(CHUNK_SIZE).map_err(|_| JitAllocError)?;
        // Recorded even if unusable, so that dropping the allocator releases it.
        self.chunks.push(Chunk::Jit(rx));
        if rx.addr() % JIT_GRANULARITY != 0 || rw.addr() % JIT_GRANULARITY != 0 {
            // jit-allocator2 hands out multiples of its granularity in page-aligned blocks;
            // never reached.
            return Err(JitAllocError);
        }
        Ok((rx, rw))
    }
}

/// `rw - rx`, exposing `rw`'s provenance so that `block_of` can rebuild it from an address.
fn rw_delta(rx: *const u8, rw: *mut u8) -> isize {
    rw.expose_provenance().wrapping_sub(rx.addr()) as isize
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Thread caches hold an `Arc` to us, so every free slot is on a global list now.
        let all_released = self.classes.iter_mut().all(|list| {
            let list = list.get_mut().unwrap_or_else(PoisonError::into_inner);
            list.free.len() == list.carved
        });
        let backing = self
            .backing
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if !all_released || !backing.large.is_empty() {
            // Something is still handed out: keep every mapping (`JitAllocator` has no `Drop`),
            // so that code that may still run stays valid.
            return;
        }
        for chunk in backing.chunks.drain(..) {
            match chunk {
                // SAFETY: none of the chunk's slots is in use (checked above), and the
                // mapping is unmapped once.
                Chunk::Near(mapping) => unsafe { mapping.unmap() },
                Chunk::Jit(rx) => {
                    if let Some(jit) = backing.jit.as_mut() {
                        // SAFETY: `rx` came from `jit.alloc` and is released once; none of
                        // its slots is in use (checked above).
                        let _ = unsafe { jit.release(rx) };
                    }
                }
            }
        }
        // Releasing the chunks leaves at most one empty block per pool, which a hard reset
        // unmaps.
        if let Some(mut jit) = backing.jit.take() {
            // SAFETY: nothing allocated from `jit` is in use any more (checked above).
            unsafe { jit.reset(ResetPolicy::Hard) };
            let dual = self.dual_mapping;
            RECYCLED
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((dual, jit));
        }
    }
}

/// jit-allocator2 0.2.9's `JitAllocator` has no `Drop`: dropping one leaks its internal
/// bookkeeping. So an emptied (hard-reset) instance is kept here and handed to the next
/// allocator that needs one with the same mapping mode, which bounds the memory by the
/// number of fallback allocators alive at once.
static RECYCLED: Mutex<Vec<(bool, Box<JitAllocator>)>> = Mutex::new(Vec::new());

/// An empty `JitAllocator` with or without dual mapping: a recycled one, or a new one.
fn recycled_jit(dual_mapping: bool) -> Box<JitAllocator> {
    let mut recycled = RECYCLED.lock().unwrap_or_else(PoisonError::into_inner);
    match recycled.iter().position(|(dual, _)| *dual == dual_mapping) {
        Some(i) => recycled.swap_remove(i).1,
        None => JitAllocator::new(JitAllocatorOptions {
            use_dual_mapping: dual_mapping,
            ..JitAllocatorOptions::default()
        }),
    }
}

/// One thread's free slots, all belonging to `owner`.
struct ThreadCache {
    /// The instance whose slots are cached; `None` while the cache is empty and unused.
    owner: Option<Arc<Shared>>,
    stacks: SlotStacks,
}

/// A stack of free slots per class.
///
/// The two views are kept in separate arrays: a `Slot` stored by `push` as two 8-byte stores
/// and reloaded by `pop` as one 16-byte load defeats store-to-load forwarding, which tripled
/// the cost of a `release` + `alloc` pair.
struct SlotStacks {
    /// Invariant: `len[c] <= CACHE_CAPACITY`.
    len: [usize; NUM_CLASSES],
    rx: [[*const u8; CACHE_CAPACITY]; NUM_CLASSES],
    rw: [[*mut u8; CACHE_CAPACITY]; NUM_CLASSES],
}

impl SlotStacks {
    const EMPTY: SlotStacks = SlotStacks {
        len: [0; NUM_CLASSES],
        rx: [[ptr::null(); CACHE_CAPACITY]; NUM_CLASSES],
        rw: [[ptr::null_mut(); CACHE_CAPACITY]; NUM_CLASSES],
    };

    #[inline(always)]
    fn pop(&mut self, class: SizeClass) -> Option<Slot> {
        let len = &mut self.len[class.index()];
        let top = len.checked_sub(1)?;
        let rx = *self.rx[class.index()].get(top)?;
        let rw = *self.rw[class.index()].get(top)?;
        *len = top;
        Some(Slot { rx, rw })
    }

    /// Pushes `slot`; `false` if the stack is full.
    #[inline(always)]
    fn push(&mut self, class: SizeClass, slot: Slot) -> bool {
        let len = &mut self.len[class.index()];
        let rx = self.rx[class.index()].get_mut(*len);
        let rw = self.rw[class.index()].get_mut(*len);
        match (rx, rw) {
            (Some(rx), Some(rw)) => {
                *rx = slot.rx;
                *rw = slot.rw;
                *len += 1;
                true
            }
            _ => false,
        }
    }

    /// Returns every slot to `owner`'s global lists.
    fn give_back_all(&self, owner: &Shared) {
        for class in SizeClass::ALL {
            let len = self.len[class.index()];
            if len != 0 {
                let rx = self.rx[class.index()].iter();
                let rw = self.rw[class.index()].iter();
                let slots = rx.zip(rw).take(len).map(|(&rx, &rw)| Slot { rx, rw });
                owner.give_back(class, slots);
            }
        }
    }
}

impl ThreadCache {
    #[inline(always)]
    fn is_owned_by(&self, shared: &Arc<Shared>) -> bool {
        matches!(&self.owner, Some(owner) if Arc::ptr_eq(owner, shared))
    }
}

impl Drop for ThreadCache {
    /// Thread exit: the cached slots go back to their allocator. If returning them calls
    /// `alloc`/`release` again on this thread, `with_cache` sees the thread-local as gone
    /// and they use the global lists directly.
    fn drop(&mut self) {
        if let Some(owner) = self.owner.take() {
            self.stacks.give_back_all(&owner);
        }
    }
}

std::thread_local! {
    static CACHE: UnsafeCell<ThreadCache> = const {
        UnsafeCell::new(ThreadCache { owner: None, stacks: SlotStacks::EMPTY })
    };
}

/// Runs `f` on this thread's cache; `None` if the thread-local is being or has been
/// destroyed.
///
/// `f` must be straight-line code over the cache: no allocation, no locking, no dropping of
/// an `Arc<Shared>`, nothing that can re-enter `alloc`/`release` on this thread.
#[inline(always)]
fn with_cache<R>(f: impl FnOnce(&mut ThreadCache) -> R) -> Option<R> {
    CACHE
        .try_with(|cell| {
            // SAFETY: the cache is reachable only from this thread, and only through this
            // function; every `f` passed here obeys the rule above, so it cannot re-enter
            // `with_cache`, and this is the only reference to the cache while it lives.
            f(unsafe { &mut *cell.get() })
        })
        .ok()
}

/// The built-in allocator: size-classed pools of slots carved from chunks mapped near the
/// program's code, with per-thread caches.
///
/// Requests of up to 496 bytes are served from slots of 64, 128, 256 or 512 bytes (a
/// 16-byte header included); larger ones get a mapping of their own (whole pages), unmapped
/// by `release`. Pointers returned by `alloc` are 16-byte aligned. Slot memory is reused, not
/// returned to the OS while the allocator lives (the layout is drawn at the top of
/// `src/jit/pool.rs`).
///
/// On Linux, memory is mapped within 1.5 GiB of closure-ffi's own code (and so of the thunk
/// templates, in the usual statically linked image): a thunk's jump back into its template
/// then costs about as little as a direct call. When no address there is free, and on other
/// OSes, memory comes from jit-allocator2, anywhere.
///
/// ```
/// use closure_ffi::jit_alloc::{JitAlloc, PoolJitAlloc};
///
/// let jit = PoolJitAlloc::new();
/// let (rx, rw) = jit.alloc(32)?;
/// # let _ = rw;
/// // ... write code through `rw`, make it executable, flush, run it through `rx` ...
/// // SAFETY: `rx` came from `jit.alloc` and nothing uses it any more.
/// unsafe { jit.release(rx)? };
/// # Ok::<(), closure_ffi::JitAllocError>(())
/// ```
pub struct PoolJitAlloc {
    shared: Arc<Shared>,
}

// `PoolJitAlloc` is `Send + Sync` because `Shared` is: its lists are behind mutexes and its
// raw pointers are wrapped in `Slot` and `Backing` (see their `unsafe impl Send`).
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PoolJitAlloc>();
};

impl PoolJitAlloc {
    /// Creates an allocator with the target's default mapping ([`DUAL_MAPPING_BY_DEFAULT`]):
    /// dual mapping (separate `rx` and `rw` views of the same memory, W^X; on Linux two
    /// mappings of a memfd, elsewhere jit-allocator2's) everywhere but on 32-bit Arm, where
    /// it is a single read-write-execute mapping. If the OS refuses the second mapping,
    /// `alloc` fails; use [`with_dual_mapping(false)`](Self::with_dual_mapping) there.
    ///
    /// No memory is mapped until the first `alloc`.
    pub fn new() -> Self {
        Self::with_dual_mapping(DUAL_MAPPING_BY_DEFAULT)
    }

    /// Creates an allocator with dual mapping (`true`: `rx != rw`, W^X) or a single
    /// read-write-execute mapping (`false`: `rx == rw`, needed where a second mapping of the
    /// same memory is unavailable, e.g. under qemu user emulation).
    ///
    /// ```
    /// use closure_ffi::jit_alloc::{JitAlloc, PoolJitAlloc};
    ///
    /// let jit = PoolJitAlloc::with_dual_mapping(false);
    /// let (rx, rw) = jit.alloc(64)?;
    /// assert_eq!(rx, rw.cast_const());
    /// // SAFETY: `rx` came from `jit.alloc` and nothing uses it.
    /// unsafe { jit.release(rx)? };
    /// # Ok::<(), closure_ffi::JitAllocError>(())
    /// ```
    pub fn with_dual_mapping(dual: bool) -> Self {
        PoolJitAlloc {
            shared: Arc::new(Shared::new(dual, NEAR_BY_DEFAULT)),
        }
    }

    /// `alloc` when this thread's cache has no slot of `class` for us: adopts the cache,
    /// refills half of it from the global list, and returns one slot.
    #[cold]
    #[inline(never)]
    fn alloc_slow(&self, class: SizeClass) -> Result<Slot, JitAllocError> {
        let mut batch = [Slot::NULL; CACHE_BATCH];
        let batch = if self.adopt_cache() {
            let n = self.shared.take_batch(class, &mut batch)?;
            batch.get(..n).unwrap_or(&[])
        } else {
            // The thread-local is gone (thread exit): take a single slot.
            let n = self.shared.take_batch(class, &mut batch[..1])?;
            batch.get(..n).unwrap_or(&[])
        };
        let (&first, rest) = batch.split_first().ok_or(JitAllocError)?;
        let mut stashed = 0;
        with_cache(|cache| {
            if cache.is_owned_by(&self.shared) {
                for &slot in rest {
                    if !cache.stacks.push(class, slot) {
                        break;
                    }
                    stashed += 1;
                }
            }
        });
        if let Some(left) = rest.get(stashed..).filter(|left| !left.is_empty()) {
            self.shared.give_back(class, left.iter().copied());
        }
        Ok(first)
    }

    /// Makes this thread's cache hold our slots, returning another owner's slots to it;
    /// `false` if the thread-local is gone.
    fn adopt_cache(&self) -> bool {
        let mut previous = None;
        let adopted = with_cache(|cache| {
            if !cache.is_owned_by(&self.shared) {
                let old = cache.owner.replace(Arc::clone(&self.shared));
                let stacks = core::mem::replace(&mut cache.stacks, SlotStacks::EMPTY);
                previous = old.map(|old| (old, stacks));
            }
        })
        .is_some();
        // Outside the cache borrow: returning slots locks, and dropping the last `Arc` of the
        // old owner may unmap its memory.
        if let Some((old, stacks)) = previous {
            stacks.give_back_all(&old);
        }
        adopted
    }

    /// `release` when the slot could not simply be pushed onto this thread's stack.
    #[cold]
    #[inline(never)]
    fn release_slow(&self, class: SizeClass, slot: Slot) {
        let mut spill = [Slot::NULL; CACHE_BATCH];
        // `Some(n)`: `slot` is cached and `spill[..n]` must go back to the global list.
        // `None`: `slot` itself goes back.
        let cached = with_cache(|cache| {
            if cache.owner.is_none() {
                cache.owner = Some(Arc::clone(&self.shared));
            }
            if !cache.is_owned_by(&self.shared) {
                // The cache holds another instance's slots: leave it alone.
                return None;
            }
            let mut n = 0;
            for entry in spill.iter_mut() {
                match cache.stacks.pop(class) {
                    Some(top) => *entry = top,
                    None => break,
                }
                n += 1;
            }
            cache.stacks.push(class, slot).then_some(n)
        })
        .flatten();
        match cached {
            Some(n) => {
                if let Some(spilled) = spill.get(..n).filter(|s| !s.is_empty()) {
                    self.shared.give_back(class, spilled.iter().copied());
                }
            }
            None => self.shared.give_back(class, [slot]),
        }
    }
}

impl Default for PoolJitAlloc {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PoolJitAlloc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolJitAlloc")
            .field("tag", &format_args!("{:#010x}", self.shared.tag))
            .field("dual_mapping", &self.shared.dual_mapping)
            .finish_non_exhaustive()
    }
}

impl JitAlloc for PoolJitAlloc {
    /// Allocates from this thread's cache when it can (no lock), else from the global list
    /// of the size class, else from a new chunk; requests over 496 bytes get a mapping of
    /// their own. The memory is not zeroed (a reused slot holds its previous code).
    #[inline]
    fn alloc(&self, size: usize) -> Result<(*const u8, *mut u8), JitAllocError> {
        let Some(class) = SizeClass::for_size(size) else {
            return self.shared.alloc_large(size);
        };
        let cached = with_cache(|cache| {
            if cache.is_owned_by(&self.shared) {
                cache.stacks.pop(class)
            } else {
                None
            }
        })
        .flatten();
        let slot = match cached {
            Some(slot) => slot,
            None => self.alloc_slow(class)?,
        };
        Ok((slot.rx, slot.rw))
    }

    /// Returns the block to this thread's cache (no lock) or to the global list.
    ///
    /// A pointer whose header does not carry this allocator's tag (including null and
    /// misaligned pointers, and blocks of another `PoolJitAlloc`) is rejected with
    /// `Err(JitAllocError)`. This check is best-effort: the safety contract still requires
    /// a pointer returned by `alloc` on this allocator.
    #[inline]
    unsafe fn release(&self, rx: *const u8) -> Result<(), JitAllocError> {
        // SAFETY: by the caller's contract `rx` came from `alloc` and is live, so its header
        // is readable.
        match unsafe { self.shared.block_of(rx) }? {
            Block::Slot(class, slot) => {
                let pushed = with_cache(|cache| {
                    cache.is_owned_by(&self.shared) && cache.stacks.push(class, slot)
                });
                if pushed != Some(true) {
                    self.release_slow(class, slot);
                }
                Ok(())
            }
            // SAFETY: the header says `base` starts a large block of this allocator; the
            // caller guarantees it is live.
            Block::Large(base) => unsafe { self.shared.release_large(base) },
        }
    }
}

/// The process-wide instance used by `GlobalJitAlloc`: created on first use with
/// [`PoolJitAlloc::new`], never freed.
///
/// Inlined so that the caller sees the concrete type behind the `dyn` and can call (and
/// inline) `PoolJitAlloc::alloc`/`release` directly.
#[inline]
pub(crate) fn global() -> &'static (dyn JitAlloc + Sync) {
    static GLOBAL: OnceLock<PoolJitAlloc> = OnceLock::new();
    GLOBAL.get_or_init(PoolJitAlloc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SizeClass::for_size` at every boundary (host-independent).
    #[test]
    fn size_class_boundaries() {
        let table = [
            (0, Some(SizeClass::B64)),
            (48, Some(SizeClass::B64)),
            (49, Some(SizeClass::B128)),
            (112, Some(SizeClass::B128)),
            (113, Some(SizeClass::B256)),
            (240, Some(SizeClass::B256)),
            (241, Some(SizeClass::B512)),
            (496, Some(SizeClass::B512)),
            (497, None),
            (usize::MAX, None),
        ];
        for (size, class) in table {
            assert_eq!(SizeClass::for_size(size), class, "size {size}");
        }
        for class in SizeClass::ALL {
            assert_eq!(SizeClass::from_header(class as u32), Some(class));
        }
        assert_eq!(SizeClass::from_header(LARGE_CLASS), None);
    }

    /// Runs `f` on a new thread and waits until the thread has exited, thread-local
    /// destructors included (`JoinHandle::join`; a scoped thread's join does not wait for
    /// them).
    fn on_thread<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
        std::thread::spawn(f).join().expect("thread")
    }

    /// An allocator that never maps near the code: chunks come from jit-allocator2, large
    /// blocks from its `virtual_memory` functions (the fallback path).
    fn jit_allocator2_pool(dual_mapping: bool) -> PoolJitAlloc {
        PoolJitAlloc {
            shared: Arc::new(Shared::new(dual_mapping, false)),
        }
    }

    /// A default allocator (near the code where possible) and a [`jit_allocator2_pool`].
    fn both_paths(dual_mapping: bool) -> [PoolJitAlloc; 2] {
        [
            PoolJitAlloc::with_dual_mapping(dual_mapping),
            jit_allocator2_pool(dual_mapping),
        ]
    }

    /// Checks that every slot is back on the global lists (no slot lost or duplicated).
    fn assert_all_free(jit: &PoolJitAlloc) {
        for class in SizeClass::ALL {
            let list = jit.shared.lock_class(class);
            assert_eq!(list.free.len(), list.carved, "{class:?}");
            let mut addrs: Vec<usize> = list.free.iter().map(|slot| slot.rx.addr()).collect();
            addrs.sort_unstable();
            addrs.dedup();
            assert_eq!(addrs.len(), list.carved, "{class:?}: duplicate free slots");
        }
        assert!(jit.shared.lock_backing().large.is_empty());
    }

    /// `(low, high, perms, path)` of every mapping in /proc/self/maps (`path` may be empty).
    #[cfg(target_os = "linux")]
    fn mappings() -> Vec<(usize, usize, String, String)> {
        let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
        maps.lines()
            .map(|line| {
                let mut fields = line.splitn(6, ' ');
                let range = fields.next().expect("range field");
                let perms = fields.next().expect("perms field").to_owned();
                let path = fields.nth(3).unwrap_or("").trim().to_owned();
                let (low, high) = range.split_once('-').expect("low-high");
                let low = usize::from_str_radix(low, 16).expect("hex address");
                let high = usize::from_str_radix(high, 16).expect("hex address");
                (low, high, perms, path)
            })
            .collect()
    }

    /// `(perms, path)` of every mapping that covers `addr` (perms `rwxp` style).
    #[cfg(target_os = "linux")]
    fn mappings_at(addr: usize) -> Vec<(String, String)> {
        mappings()
            .into_iter()
            .filter(|(low, high, _, _)| (*low..*high).contains(&addr))
            .map(|(_, _, perms, path)| (perms, path))
            .collect()
    }

    /// The permissions (`rwxp` style) of every mapping that covers `addr`.
    #[cfg(target_os = "linux")]
    fn perms_at(addr: usize) -> Vec<String> {
        mappings_at(addr)
            .into_iter()
            .map(|(perms, _)| perms)
            .collect()
    }

    /// Tests that run code from the allocator: the machine code below exists for x86_64,
    /// aarch64 and 32-bit Arm (where they also check the I-cache flush, e.g. code rewritten
    /// in a reused slot). On 32-bit Arm they use the target's default, single mapping (see
    /// [`DUAL_MAPPING_BY_DEFAULT`]): qemu-arm runs stale code from a reused dual-mapped slot.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "arm"))]
    mod exec {
        use super::*;
        use std::sync::mpsc;

        /// `lea rax, [rdi + rsi]; ret`: returns a + b.
        #[cfg(target_arch = "x86_64")]
        const ADD: [u8; 5] = [0x48, 0x8D, 0x04, 0x37, 0xC3];
        /// `lea rax, [rdi + rsi*2]; ret`: returns a + 2b.
        #[cfg(target_arch = "x86_64")]
        const ADD_TWICE: [u8; 5] = [0x48, 0x8D, 0x04, 0x77, 0xC3];
        /// `add x0, x0, x1; ret`: returns a + b.
        #[cfg(target_arch = "aarch64")]
        const ADD: [u8; 8] = [0x00, 0x00, 0x01, 0x8B, 0xC0, 0x03, 0x5F, 0xD6];
        /// `add x0, x0, x1, lsl #1; ret`: returns a + 2b.
        #[cfg(target_arch = "aarch64")]
        const ADD_TWICE: [u8; 8] = [0x00, 0x04, 0x01, 0x8B, 0xC0, 0x03, 0x5F, 0xD6];
        /// A32 (called by `blx` from T32 builds too: bit 0 clear): `adds r0, r0, r2;
        /// adc r1, r1, r3; bx lr`, a + b on the u64 pairs r1:r0 and r3:r2.
        #[cfg(target_arch = "arm")]
        const ADD: [u8; 12] = words_le([0xE090_0002, 0xE0A1_1003, 0xE12F_FF1E]);
        /// A32: `adds r2, r2, r2; adc r3, r3, r3` (b *= 2), then as [`ADD`].
        #[cfg(target_arch = "arm")]
        const ADD_TWICE: [u8; 20] = words_le([
            0xE092_2002,
            0xE0A3_3003,
            0xE090_0002,
            0xE0A1_1003,
            0xE12F_FF1E,
        ]);

        /// Little-endian bytes of A32 words.
        #[cfg(target_arch = "arm")]
        const fn words_le<const W: usize, const B: usize>(words: [u32; W]) -> [u8; B] {
            let mut out = [0u8; B];
            let mut i = 0;
            while i < B {
                out[i] = (words[i / 4] >> (8 * (i % 4))) as u8;
                i += 1;
            }
            out
        }

        // System V explicitly on x86_64: the code above reads rdi and rsi, and "C" is Win64
        // on Windows.
        #[cfg(target_arch = "x86_64")]
        type BinFn = extern "sysv64" fn(u64, u64) -> u64;
        #[cfg(target_arch = "x86_64")]
        type ConstFn = extern "sysv64" fn() -> u64;
        #[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
        type BinFn = extern "C" fn(u64, u64) -> u64;
        #[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
        type ConstFn = extern "C" fn() -> u64;

        /// Writes `code` through `rw` and makes it visible to instruction fetch at `rx`.
        ///
        /// # Safety
        /// `(rx, rw)` must be a live block of `jit` of at least `code.len()` bytes.
        unsafe fn write_code(jit: &PoolJitAlloc, rx: *const u8, rw: *mut u8, code: &[u8]) {
            // SAFETY: the block is live, writable through `rw` and large enough.
            unsafe {
                ptr::copy_nonoverlapping(code.as_ptr(), rw, code.len());
                jit.flush_instruction_cache(rx, code.len());
            }
        }

        /// Length of [`const_code`].
        #[cfg(target_arch = "x86_64")]
        const CONST_CODE_LEN: usize = 11;
        /// Length of [`const_code`].
        #[cfg(target_arch = "aarch64")]
        const CONST_CODE_LEN: usize = 16;
        /// Length of [`const_code`].
        #[cfg(target_arch = "arm")]
        const CONST_CODE_LEN: usize = 20;

        /// `mov rax, value; ret`.
        #[cfg(target_arch = "x86_64")]
        fn const_code(value: u64) -> [u8; CONST_CODE_LEN] {
            let mut code = [0u8; CONST_CODE_LEN];
            code[..2].copy_from_slice(&[0x48, 0xB8]);
            code[2..10].copy_from_slice(&value.to_le_bytes());
            code[10] = 0xC3;
            code
        }

        /// `ldr x0, #8; ret; .quad value`.
        #[cfg(target_arch = "aarch64")]
        fn const_code(value: u64) -> [u8; CONST_CODE_LEN] {
            let mut code = [0u8; CONST_CODE_LEN];
            code[..8].copy_from_slice(&[0x40, 0x00, 0x00, 0x58, 0xC0, 0x03, 0x5F, 0xD6]);
            code[8..].copy_from_slice(&value.to_le_bytes());
            code
        }

        /// A32 `ldr r0, [pc, #4]; ldr r1, [pc, #4]; bx lr; .word lo, hi`.
        #[cfg(target_arch = "arm")]
        fn const_code(value: u64) -> [u8; CONST_CODE_LEN] {
            let mut code = [0u8; CONST_CODE_LEN];
            let head: [u8; 12] = words_le([0xE59F_0004, 0xE59F_1004, 0xE12F_FF1E]);
            code[..12].copy_from_slice(&head);
            code[12..].copy_from_slice(&value.to_le_bytes());
            code
        }

        /// Allocates `size` bytes, writes [`const_code`], returns rx.
        fn make_const_fn(jit: &PoolJitAlloc, size: usize, value: u64) -> *const u8 {
            let (rx, rw) = jit.alloc(size).expect("alloc");
            assert_eq!(rx.addr() % HEADER_ALIGN, 0);
            // SAFETY: `(rx, rw)` is a live block of `size >= CONST_CODE_LEN` bytes.
            unsafe { write_code(jit, rx, rw, &const_code(value)) };
            rx
        }

        fn call_const(rx: *const u8) -> u64 {
            // SAFETY: `rx` holds `const_code` (made by `make_const_fn`), a `ConstFn`.
            let f: ConstFn = unsafe { core::mem::transmute::<*const u8, ConstFn>(rx) };
            f()
        }

        #[test]
        fn alloc_write_call_release_realloc() {
            let jit = PoolJitAlloc::new();
            let (rx, rw) = jit.alloc(ADD.len()).expect("alloc");
            // SAFETY: live block of at least `ADD.len()` bytes.
            unsafe { write_code(&jit, rx, rw, &ADD) };
            // SAFETY: the block holds `ADD`, a `BinFn`.
            let add: BinFn = unsafe { core::mem::transmute::<*const u8, BinFn>(rx) };
            assert_eq!(add(2, 3), 5);
            // SAFETY: from `alloc`, released once, not used afterwards.
            unsafe { jit.release(rx) }.expect("release");

            let (rx2, rw2) = jit.alloc(ADD_TWICE.len()).expect("alloc again");
            // The thread cache is a stack: the slot just released comes back.
            assert_eq!(rx2, rx);
            // SAFETY: live block of at least `ADD.len()` bytes.
            unsafe { write_code(&jit, rx2, rw2, &ADD_TWICE) };
            // SAFETY: the block now holds `ADD_TWICE`, of the same type.
            let add_twice: BinFn = unsafe { core::mem::transmute::<*const u8, BinFn>(rx2) };
            assert_eq!(add_twice(2, 3), 8);
            // SAFETY: from `alloc`, released once.
            unsafe { jit.release(rx2) }.expect("release");
            assert!(format!("{jit:?}").starts_with("PoolJitAlloc"));
        }

        #[test]
        fn every_class_and_large_blocks() {
            for jit in both_paths(DUAL_MAPPING_BY_DEFAULT) {
                every_class_and_large_blocks_on(jit);
            }
        }

        fn every_class_and_large_blocks_on(jit: PoolJitAlloc) {
            let sizes = [1, 48, 49, 112, 113, 240, 241, 496, 497, 5000, 100_000];
            let mut live = Vec::new();
            for (i, &size) in sizes.iter().enumerate() {
                let (rx, rw) = jit.alloc(size).expect("alloc");
                assert_eq!(rx.addr() % HEADER_ALIGN, 0);
                // SAFETY: `(rx, rw)` is a live block of `size` bytes.
                unsafe {
                    // The whole requested range is writable.
                    rw.add(size - 1).write(0xCC);
                    if size >= CONST_CODE_LEN {
                        write_code(&jit, rx, rw, &const_code(i as u64 * 1000 + 7));
                    }
                }
                // SAFETY: the header of a live block is readable.
                match unsafe { jit.shared.block_of(rx) }.expect("own block") {
                    Block::Slot(class, slot) => {
                        assert_eq!(SizeClass::for_size(size), Some(class));
                        assert_eq!(slot, Slot { rx, rw });
                    }
                    Block::Large(base) => {
                        assert!(SizeClass::for_size(size).is_none());
                        assert_eq!(base, rx.wrapping_sub(HEADER_SIZE));
                    }
                }
                live.push((rx, size, i));
            }
            // Every block is still intact while the others are live.
            for &(rx, size, i) in &live {
                if size >= CONST_CODE_LEN {
                    assert_eq!(call_const(rx), i as u64 * 1000 + 7);
                }
            }
            for (rx, _, _) in live {
                // SAFETY: from `alloc`, released once.
                unsafe { jit.release(rx) }.expect("release");
            }
            drop(jit);
        }

        #[test]
        fn cross_thread_release() {
            let jit = Arc::new(PoolJitAlloc::new());
            // Allocated here, called and released on another thread.
            let rx = make_const_fn(&jit, 32, 41).addr();
            let on_other = Arc::clone(&jit);
            on_thread(move || {
                let rx = ptr::with_exposed_provenance::<u8>(rx);
                assert_eq!(call_const(rx), 41);
                // SAFETY: from `alloc` on `jit`, released once.
                unsafe { on_other.release(rx) }.expect("release on another thread");
            });
            // Allocated on another thread, released here.
            let on_other = Arc::clone(&jit);
            let rx = on_thread(move || make_const_fn(&on_other, 200, 42).addr());
            let rx = ptr::with_exposed_provenance::<u8>(rx);
            assert_eq!(call_const(rx), 42);
            // SAFETY: from `alloc` on `jit`, released once.
            unsafe { jit.release(rx) }.expect("release");
            // Flush this thread's cache (it is adopted by another instance), then check.
            let other = PoolJitAlloc::new();
            let rx = make_const_fn(&other, 16, 0);
            // SAFETY: from `alloc` on `other`, released once.
            unsafe { other.release(rx) }.expect("release");
            assert_all_free(&jit);
        }

        /// 4 threads x 10_000 thunks in all size classes. Every thread keeps a window of live
        /// thunks and hands every other one to the next thread, which calls and releases it.
        #[test]
        fn four_threads_churn() {
            const THREADS: u64 = 4;
            const PER_THREAD: u64 = 10_000;
            const WINDOW: usize = 100;
            let jit = Arc::new(PoolJitAlloc::new());
            let sizes = [16, 64, 100, 200, 400, 600];
            let (senders, receivers): (Vec<_>, Vec<_>) = (0..THREADS)
                .map(|_| mpsc::channel::<(usize, u64)>())
                .unzip();
            let threads: Vec<_> = receivers
                .into_iter()
                .enumerate()
                .map(|(t, rx_channel)| {
                    let next = senders[(t + 1) % THREADS as usize].clone();
                    let jit = Arc::clone(&jit);
                    std::thread::spawn(move || {
                        let mut window = std::collections::VecDeque::new();
                        for i in 0..PER_THREAD {
                            let value = ((t as u64) << 32) | i;
                            let size = sizes[(i as usize) % sizes.len()];
                            let rx = make_const_fn(&jit, size, value);
                            assert_eq!(call_const(rx), value);
                            if i % 2 == 0 {
                                next.send((rx.addr(), value)).expect("send");
                            } else {
                                window.push_back((rx, value));
                            }
                            if window.len() > WINDOW {
                                let (old, old_value) = window.pop_front().expect("non-empty");
                                assert_eq!(call_const(old), old_value);
                                // SAFETY: from `alloc` on `jit`, released once.
                                unsafe { jit.release(old) }.expect("release");
                            }
                            while let Ok((addr, value)) = rx_channel.try_recv() {
                                let rx = ptr::with_exposed_provenance::<u8>(addr);
                                assert_eq!(call_const(rx), value);
                                // SAFETY: from `alloc` on `jit` (another thread), released once.
                                unsafe { jit.release(rx) }.expect("release");
                            }
                        }
                        drop(next);
                        for (rx, value) in window {
                            assert_eq!(call_const(rx), value);
                            // SAFETY: from `alloc` on `jit`, released once.
                            unsafe { jit.release(rx) }.expect("release");
                        }
                        // Drain until every sender (including our own clone) is gone.
                        for (addr, value) in rx_channel {
                            let rx = ptr::with_exposed_provenance::<u8>(addr);
                            assert_eq!(call_const(rx), value);
                            // SAFETY: from `alloc` on `jit`, released once.
                            unsafe { jit.release(rx) }.expect("release");
                        }
                    })
                })
                .collect();
            drop(senders);
            for thread in threads {
                thread.join().expect("thread");
            }
            // The threads have exited, so their caches are back on the global lists.
            assert_all_free(&jit);
        }

        #[test]
        fn single_mapping_works() {
            for jit in both_paths(false) {
                for size in [40, 5000] {
                    let (rx, rw) = jit.alloc(size).expect("alloc");
                    assert_eq!(rx, rw.cast_const());
                    // SAFETY: live block of at least CONST_CODE_LEN bytes.
                    unsafe { write_code(&jit, rx, rw, &const_code(99)) };
                    assert_eq!(call_const(rx), 99);
                    #[cfg(target_os = "linux")]
                    assert!(perms_at(rx.addr()).iter().all(|p| p.contains('x')));
                    // SAFETY: from `alloc`, released once.
                    unsafe { jit.release(rx) }.expect("release");
                }
            }
        }

        #[test]
        fn thread_exit_returns_cache() {
            let jit = Arc::new(PoolJitAlloc::new());
            let on_other = Arc::clone(&jit);
            on_thread(move || {
                let live: Vec<_> = (0..50).map(|i| make_const_fn(&on_other, 64, i)).collect();
                for (i, rx) in live.into_iter().enumerate() {
                    assert_eq!(call_const(rx), i as u64);
                    // SAFETY: from `alloc`, released once.
                    unsafe { on_other.release(rx) }.expect("release");
                }
            });
            assert_all_free(&jit);
        }

        /// A thread-local destructor that runs after the cache is gone still allocates and
        /// releases (through the global lists).
        #[test]
        fn alloc_after_cache_destroyed() {
            use std::cell::RefCell;
            use std::sync::atomic::AtomicU64;

            struct ExitGuard {
                jit: Arc<PoolJitAlloc>,
                /// The value the thunk returned, or `u64::MAX` on a failure (a panic in a
                /// thread-local destructor would abort the test binary).
                result: Arc<AtomicU64>,
                cache_was_gone: Arc<AtomicU64>,
            }
            impl Drop for ExitGuard {
                fn drop(&mut self) {
                    let gone = CACHE.try_with(|_| ()).is_err();
                    self.cache_was_gone.store(u64::from(gone), Ordering::SeqCst);
                    let value = match self.jit.alloc(64) {
                        Ok((rx, rw)) => {
                            // SAFETY: live block of 64 bytes.
                            unsafe { write_code(&self.jit, rx, rw, &const_code(77)) };
                            let value = call_const(rx);
                            // SAFETY: from `alloc`, released once.
                            match unsafe { self.jit.release(rx) } {
                                Ok(()) => value,
                                Err(_) => u64::MAX,
                            }
                        }
                        Err(_) => u64::MAX,
                    };
                    self.result.store(value, Ordering::SeqCst);
                }
            }
            std::thread_local! {
                static GUARD: RefCell<Option<ExitGuard>> = const { RefCell::new(None) };
            }

            let jit = Arc::new(PoolJitAlloc::new());
            let result = Arc::new(AtomicU64::new(0));
            let cache_was_gone = Arc::new(AtomicU64::new(0));
            let guard = ExitGuard {
                jit: Arc::clone(&jit),
                result: Arc::clone(&result),
                cache_was_gone: Arc::clone(&cache_was_gone),
            };
            let on_other = Arc::clone(&jit);
            on_thread(move || {
                // Registered before the cache, so destroyed after it (std runs thread-local
                // destructors last-registered first).
                GUARD.with(|slot| *slot.borrow_mut() = Some(guard));
                let rx = make_const_fn(&on_other, 64, 1);
                // SAFETY: from `alloc`, released once.
                unsafe { on_other.release(rx) }.expect("release");
            });
            assert_eq!(result.load(Ordering::SeqCst), 77);
            // The point of the test: the destroyed-cache path ran (this relies on std's
            // last-registered-first destructor order, which std does not promise on Windows:
            // there the guard ran with the cache still alive, measured under wine 8; the
            // allocation above must work either way).
            #[cfg(not(windows))]
            assert_eq!(
                cache_was_gone.load(Ordering::SeqCst),
                1,
                "cache destroyed first"
            );
            #[cfg(windows)]
            let _ = cache_was_gone;
            assert_all_free(&jit);
        }

        #[test]
        fn memory_stays_flat_under_churn() {
            let jit = PoolJitAlloc::new();
            let mut live = std::collections::VecDeque::new();
            for i in 0..200_000u64 {
                let size = [16, 100, 200, 400][(i % 4) as usize];
                let (rx, _) = jit.alloc(size).expect("alloc");
                live.push_back(rx);
                if live.len() > 40 {
                    let old = live.pop_front().expect("non-empty");
                    // SAFETY: from `alloc`, released once.
                    unsafe { jit.release(old) }.expect("release");
                }
                if i == 1000 {
                    assert_eq!(jit.shared.lock_backing().chunks.len(), NUM_CLASSES);
                }
            }
            // One chunk per class, however many thunks came and went.
            assert_eq!(jit.shared.lock_backing().chunks.len(), NUM_CLASSES);
            for rx in live {
                // SAFETY: from `alloc`, released once.
                unsafe { jit.release(rx) }.expect("release");
            }
        }

        #[test]
        fn dropped_allocator_keeps_live_code_and_frees_the_rest() {
            std::thread::scope(|s| {
                s.spawn(|| {
                    // All released: the state goes once no thread cache refers to it.
                    let jit = PoolJitAlloc::new();
                    let rx = make_const_fn(&jit, 64, 5);
                    // SAFETY: from `alloc`, released once.
                    unsafe { jit.release(rx) }.expect("release");
                    let state = Arc::downgrade(&jit.shared);
                    drop(jit);
                    assert!(state.upgrade().is_some(), "this thread's cache holds it");
                    let other = PoolJitAlloc::new();
                    let rx = make_const_fn(&other, 64, 6);
                    assert!(state.upgrade().is_none(), "adopting the cache released it");
                    // SAFETY: from `alloc`, released once.
                    unsafe { other.release(rx) }.expect("release");

                    // Something still live: the mapping is kept, and the code still runs.
                    let jit = PoolJitAlloc::new();
                    let leaked = make_const_fn(&jit, 64, 7);
                    let state = Arc::downgrade(&jit.shared);
                    drop(jit);
                    let rx = make_const_fn(&other, 64, 8);
                    assert!(state.upgrade().is_none());
                    assert_eq!(call_const(leaked), 7);
                    // SAFETY: from `alloc`, released once.
                    unsafe { other.release(rx) }.expect("release");
                });
            });
        }

        #[test]
        fn global_instance_works() {
            let jit = global();
            assert!(ptr::addr_eq(jit, global()));
            let (rx, rw) = jit.alloc(ADD.len()).expect("alloc");
            // SAFETY: live block of at least `ADD.len()` bytes, written through `rw`.
            unsafe {
                ptr::copy_nonoverlapping(ADD.as_ptr(), rw, ADD.len());
                jit.flush_instruction_cache(rx, ADD.len());
            }
            // SAFETY: the block holds `ADD`.
            let add: BinFn = unsafe { core::mem::transmute::<*const u8, BinFn>(rx) };
            assert_eq!(add(20, 22), 42);
            // SAFETY: from `alloc`, released once.
            unsafe { jit.release(rx) }.expect("release");
        }
    }

    #[test]
    fn foreign_pointers_are_rejected() {
        let jit = PoolJitAlloc::new();
        let other = PoolJitAlloc::new();
        // A heap pointer with readable, aligned, zeroed bytes in front: not a header of ours.
        let heap = Vec::from([0u128; 4]);
        let foreign = heap[2..].as_ptr().cast::<u8>();
        // SAFETY: these calls break `release`'s contract on purpose, within what the
        // best-effort check handles: the 16 bytes in front of `foreign` are readable, and
        // null is rejected before anything is read.
        unsafe {
            assert_eq!(jit.release(foreign), Err(JitAllocError));
            assert_eq!(jit.release(ptr::null()), Err(JitAllocError));
        }
        let (rx, _) = jit.alloc(64).expect("alloc");
        let (other_rx, _) = other.alloc(64).expect("alloc");
        // SAFETY: as above: `rx + 1` is misaligned and rejected before anything is read, and
        // `other_rx` has the readable header of `other`. The last two calls keep the contract.
        unsafe {
            assert_eq!(jit.release(rx.wrapping_add(1)), Err(JitAllocError));
            assert_eq!(jit.release(other_rx), Err(JitAllocError));
            jit.release(rx).expect("own block");
            other.release(other_rx).expect("own block");
        }
    }

    /// `PoolJitAlloc::new` maps as [`DUAL_MAPPING_BY_DEFAULT`] says: two views everywhere
    /// but on 32-bit Arm, where `rx == rw`.
    #[test]
    fn default_mapping_follows_the_target() {
        let jit = PoolJitAlloc::new();
        let (rx, rw) = jit.alloc(64).expect("alloc");
        assert_eq!(rx != rw.cast_const(), DUAL_MAPPING_BY_DEFAULT);
        assert_eq!(DUAL_MAPPING_BY_DEFAULT, !cfg!(target_arch = "arm"));
        // SAFETY: from `alloc`, released once.
        unsafe { jit.release(rx) }.expect("release");
    }

    /// Guards the jit-allocator2 workaround (see the FIXME in the module docs): chunks taken
    /// while others are live never overlap, across several jit-allocator2 blocks. Near chunks
    /// are checked the same way.
    #[test]
    fn chunks_never_overlap() {
        for jit in both_paths(true) {
            chunks_never_overlap_on(jit);
        }
    }

    fn chunks_never_overlap_on(jit: PoolJitAlloc) {
        let jit = Arc::new(jit);
        let on_other = Arc::clone(&jit);
        // On a thread of its own, so that its cache is back on the global lists at the end.
        on_thread(move || {
            let jit = on_other;
            let mut live = Vec::new();
            for i in 0..20_000 {
                let size = [16, 100, 200, 400][i % 4];
                live.push(jit.alloc(size).expect("alloc").0);
            }
            let mut chunks: Vec<usize> = jit
                .shared
                .lock_backing()
                .chunks
                .iter()
                .map(|chunk| chunk.rx().addr())
                .collect();
            assert!(chunks.len() > 20, "spans several jit-allocator2 blocks");
            chunks.sort_unstable();
            for pair in chunks.windows(2) {
                assert!(pair[0] + CHUNK_SIZE <= pair[1], "chunks overlap: {pair:x?}");
            }
            let mut addrs: Vec<usize> = live.iter().map(|rx| rx.addr()).collect();
            addrs.sort_unstable();
            addrs.dedup();
            assert_eq!(addrs.len(), live.len(), "a slot was handed out twice");
            for rx in live {
                // SAFETY: from `alloc`, released once.
                unsafe { jit.release(rx) }.expect("release");
            }
        });
        assert_all_free(&jit);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn dual_mapping_is_w_xor_x() {
        for jit in both_paths(true) {
            for size in [64, 5000] {
                let (rx, rw) = jit.alloc(size).expect("alloc");
                assert_ne!(rx, rw.cast_const());
                let rx_perms = perms_at(rx.addr());
                let rw_perms = perms_at(rw.addr());
                assert!(!rx_perms.is_empty() && !rw_perms.is_empty());
                for perms in &rx_perms {
                    assert!(perms.starts_with("r-x"), "rx view mapped {perms}");
                }
                for perms in &rw_perms {
                    assert!(perms.starts_with("rw-"), "rw view mapped {perms}");
                }
                // SAFETY: from `alloc`, released once.
                unsafe { jit.release(rx) }.expect("release");
            }
        }
    }

    /// Slots of every class and large blocks, dual and single mapping, lie within branch reach
    /// (x86 rel32: 2 GiB; aarch64 `B`: 128 MiB) of closure-ffi's code and of this test's
    /// code, in near mappings (a memfd when dual); the jit-allocator2 path is left alone.
    /// Not on 32-bit Arm, where the pool does not place its memory ([`NEAR_BY_DEFAULT`]).
    #[cfg(all(target_os = "linux", not(target_arch = "arm")))]
    #[test]
    fn memory_is_near_the_code() {
        #[cfg(not(target_arch = "aarch64"))]
        const REL32_REACH: usize = 1 << 31;
        #[cfg(target_arch = "aarch64")]
        const REL32_REACH: usize = 128 << 20;
        let references = [
            near::reference_address(),
            memory_is_near_the_code as fn() as usize,
        ];
        for dual_mapping in [true, false] {
            let jit = PoolJitAlloc::with_dual_mapping(dual_mapping);
            let mut live = Vec::new();
            for size in [16, 100, 200, 400, 5000] {
                let (rx, rw) = jit.alloc(size).expect("alloc");
                for reference in references {
                    let distance = rx.addr().abs_diff(reference);
                    assert!(
                        distance < REL32_REACH,
                        "{rx:?} is {distance:#x} from {reference:#x}"
                    );
                }
                assert_eq!(rx == rw.cast_const(), !dual_mapping);
                if dual_mapping {
                    for (perms, path) in mappings_at(rx.addr()) {
                        assert!(perms.starts_with("r-xs"), "rx view mapped {perms}");
                        let shared_file = path.starts_with("/memfd:closure-ffi-jit")
                            || path.ends_with("(deleted)");
                        assert!(shared_file, "rx view of {path:?}");
                    }
                }
                live.push(rx);
            }
            {
                let backing = jit.shared.lock_backing();
                assert_eq!(backing.chunks.len(), NUM_CLASSES);
                assert!(backing.chunks.iter().all(|c| matches!(c, Chunk::Near(_))));
                assert!(backing
                    .large
                    .iter()
                    .all(|b| matches!(b, LargeBlock::Near(_))));
            }
            for rx in live {
                // SAFETY: from `alloc`, released once.
                unsafe { jit.release(rx) }.expect("release");
            }
        }
    }
}
