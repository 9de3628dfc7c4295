//! Where a `BareFn*` keeps its closure: a heap block, recycled per thread.
//!
//! Creating and dropping a thunk is dominated by small allocations; the closure's box is
//! one of them (a malloc + free pair costs about as much as the rest of thunk creation).
//! Closures of at most [`MAX_RECYCLED`] bytes with alignment at most [`BLOCK_ALIGN`] get a
//! block of a size class from the global allocator, and a dropped block goes to a small
//! per-thread cache of its class instead of back to the allocator. Larger or over-aligned
//! closures (and everything without `std`) use a plain `Box`.
//!
//! ```text
//!  class:   0     1     2     3
//!  size:    16    32    64    128 bytes, alignment 16
//!  cache:   [ptr; CACHE_LEN] per class per thread; full -> dealloc, empty -> alloc
//! ```
//!
//! The decision is recorded in the owner ([`Stored::recycled`]) rather than recomputed, so a
//! block always goes back the way it came.

use alloc::alloc::{alloc, dealloc, Layout};
use alloc::boxed::Box;
use core::ptr::NonNull;

use crate::traits::ToBoxedDyn;

/// Alignment of every recycled block.
pub(crate) const BLOCK_ALIGN: usize = 16;
/// Block sizes of the classes.
const CLASS_SIZES: [usize; 4] = [16, 32, 64, 128];
/// The largest closure that is recycled.
pub(crate) const MAX_RECYCLED: usize = CLASS_SIZES[CLASS_SIZES.len() - 1];

/// A closure stored on the heap, erased to `S`.
pub(crate) struct Stored<S: ?Sized> {
    pub(crate) ptr: *mut S,
    /// `Some(class)` when the block is a recycled class block, `None` for a `Box`.
    pub(crate) recycled: Option<u8>,
}

#[inline(always)]
fn class_of(size: usize, align: usize) -> Option<u8> {
    if align > BLOCK_ALIGN || size > MAX_RECYCLED || size == 0 {
        return None;
    }
    let mut class = 0;
    while CLASS_SIZES[class] < size {
        class += 1;
    }
    Some(class as u8)
}

#[inline(always)]
fn class_layout(class: u8) -> Layout {
    // SAFETY: sizes are non-zero multiples of the alignment, a power of two.
    unsafe { Layout::from_size_align_unchecked(CLASS_SIZES[class as usize], BLOCK_ALIGN) }
}

/// Moves `value` to the heap and erases it to `S`.
#[inline]
pub(crate) fn store<S: ?Sized, F: ToBoxedDyn<S>>(value: F) -> Stored<S> {
    if let Some(class) = class_of(size_of::<F>(), align_of::<F>()) {
        if let Some(block) = cache::take(class) {
            let typed = block.as_ptr().cast::<F>();
            if let Some(ptr) = F::__unsize_raw(typed) {
                // SAFETY: the block is at least `CLASS_SIZES[class] >= size_of::<F>()` bytes,
                // aligned to 16 >= align_of::<F>(), and exclusively ours.
                unsafe { typed.write(value) };
                return Stored {
                    ptr,
                    recycled: Some(class),
                };
            }
            // A ToBoxedDyn implementation without raw unsizing: give the block back.
            // SAFETY: the block has this class's layout and holds nothing.
            unsafe { cache::give(class, block) };
        }
    }
    Stored {
        ptr: Box::into_raw(F::to_boxed_unsize(value)),
        recycled: None,
    }
}

impl<S: ?Sized> Stored<S> {
    /// Drops the closure and frees its block.
    ///
    /// # Safety
    /// Called once; the closure is intact (not moved out).
    #[inline]
    pub(crate) unsafe fn drop_and_free(&self) {
        match self.recycled {
            // SAFETY: a class block holding a live closure; dropped once, then recycled.
            Some(class) => unsafe {
                core::ptr::drop_in_place(self.ptr);
                cache::give(class, NonNull::new_unchecked(self.ptr.cast()));
            },
            // SAFETY: came from `Box::into_raw`; dropped once.
            None => drop(unsafe { Box::from_raw(self.ptr) }),
        }
    }

    /// Frees the block without dropping the closure (it was moved out by a call).
    ///
    /// # Safety
    /// Called once; the closure must not be used or dropped afterwards.
    #[inline]
    pub(crate) unsafe fn free_without_drop(&self) {
        match self.recycled {
            // SAFETY: a class block; its contents were moved out.
            Some(class) => unsafe { cache::give(class, NonNull::new_unchecked(self.ptr.cast())) },
            None => {
                // SAFETY: the metadata still describes the allocation made by `Box`.
                let layout = Layout::for_value(unsafe { &*self.ptr });
                if layout.size() != 0 {
                    // SAFETY: allocated by `Box` with this layout.
                    unsafe { dealloc(self.ptr.cast(), layout) };
                }
            }
        }
    }
}

/// Allocates a fresh block of `class`.
#[inline]
fn fresh(class: u8) -> Option<NonNull<u8>> {
    // SAFETY: class layouts have non-zero size.
    NonNull::new(unsafe { alloc(class_layout(class)) })
}

/// Frees a block of `class` to the global allocator.
///
/// # Safety
/// `block` was allocated with `class_layout(class)` and is not used afterwards.
#[inline]
unsafe fn release(class: u8, block: NonNull<u8>) {
    // SAFETY: forwarded from the caller.
    unsafe { dealloc(block.as_ptr(), class_layout(class)) }
}

#[cfg(feature = "std")]
mod cache {
    //! The per-thread block caches.

    use super::{fresh, release, CLASS_SIZES};
    use core::cell::UnsafeCell;
    use core::ptr::NonNull;

    /// Blocks kept per class per thread.
    const CACHE_LEN: usize = 32;
    const CLASSES: usize = CLASS_SIZES.len();

    struct Cache {
        len: [usize; CLASSES],
        blocks: [[*mut u8; CACHE_LEN]; CLASSES],
    }

    impl Drop for Cache {
        fn drop(&mut self) {
            for class in 0..CLASSES {
                for &block in &self.blocks[class][..self.len[class]] {
                    if let Some(block) = NonNull::new(block) {
                        // SAFETY: cached blocks are unused class blocks of this class.
                        unsafe { release(class as u8, block) };
                    }
                }
            }
        }
    }

    std::thread_local! {
        static CACHE: UnsafeCell<Cache> = const {
            UnsafeCell::new(Cache {
                len: [0; CLASSES],
                blocks: [[core::ptr::null_mut(); CACHE_LEN]; CLASSES],
            })
        };
    }

    /// A block of `class`: from this thread's cache, or fresh.
    #[inline]
    pub(super) fn take(class: u8) -> Option<NonNull<u8>> {
        let cached = CACHE
            .try_with(|cache| {
                // SAFETY: the cache is only touched by these two functions, which never
                // call out while holding the reference (no re-entrancy).
                let cache = unsafe { &mut *cache.get() };
                let len = &mut cache.len[class as usize];
                if *len == 0 {
                    return None;
                }
                *len -= 1;
                NonNull::new(cache.blocks[class as usize][*len])
            })
            .ok()
            .flatten();
        cached.or_else(|| fresh(class))
    }

    /// Returns a block of `class` to this thread's cache (or frees it when full).
    ///
    /// # Safety
    /// `block` has `class`'s layout, came from `take` (any thread), and is not used after.
    #[inline]
    pub(super) unsafe fn give(class: u8, block: NonNull<u8>) {
        let kept = CACHE
            .try_with(|cache| {
                // SAFETY: see `take`.
                let cache = unsafe { &mut *cache.get() };
                let len = &mut cache.len[class as usize];
                if *len == CACHE_LEN {
                    return false;
                }
                cache.blocks[class as usize][*len] = block.as_ptr();
                *len += 1;
                true
            })
            .unwrap_or(false);
        if !kept {
            // SAFETY: forwarded from the caller.
            unsafe { release(class, block) };
        }
    }
}

#[cfg(not(feature = "std"))]
mod cache {
    //! Without `std` there are no thread-locals: blocks go straight to the allocator.

    use super::{fresh, release};
    use core::ptr::NonNull;

    #[inline]
    pub(super) fn take(class: u8) -> Option<NonNull<u8>> {
        fresh(class)
    }

    /// # Safety
    /// `block` has `class`'s layout and is not used after.
    #[inline]
    pub(super) unsafe fn give(class: u8, block: NonNull<u8>) {
        // SAFETY: forwarded from the caller.
        unsafe { release(class, block) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;

    #[test]
    fn classes_cover_sizes_and_reject_the_rest() {
        assert_eq!(class_of(1, 1), Some(0));
        assert_eq!(class_of(16, 8), Some(0));
        assert_eq!(class_of(17, 8), Some(1));
        assert_eq!(class_of(128, 16), Some(3));
        assert_eq!(class_of(129, 8), None);
        assert_eq!(class_of(8, 32), None);
        assert_eq!(class_of(0, 1), None);
    }

    struct Counted<'a>(&'a Cell<u32>, [u64; 3]);
    impl Drop for Counted<'_> {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    #[test]
    fn stored_values_are_dropped_once_and_blocks_reused() {
        let drops = Cell::new(0);
        let a = store::<dyn crate::traits::Any, _>(Counted(&drops, [1, 2, 3]));
        assert_eq!(a.recycled, Some(1));
        let first = a.ptr.cast::<u8>();
        // SAFETY: intact closure, freed once.
        unsafe { a.drop_and_free() };
        assert_eq!(drops.get(), 1);
        let b = store::<dyn crate::traits::Any, _>(Counted(&drops, [4, 5, 6]));
        assert_eq!(b.ptr.cast::<u8>(), first, "the cached block is reused");
        // SAFETY: reads the value we stored.
        assert_eq!(unsafe { &*b.ptr.cast::<Counted<'_>>() }.1, [4, 5, 6]);
        // SAFETY: intact closure, freed once.
        unsafe { b.drop_and_free() };
        assert_eq!(drops.get(), 2);
    }

    #[test]
    fn large_and_over_aligned_values_use_a_box() {
        #[repr(align(64))]
        struct Aligned(#[allow(dead_code)] u8);
        let a = store::<dyn crate::traits::Any, _>(Aligned(1));
        assert_eq!(a.recycled, None);
        assert_eq!(a.ptr.cast::<u8>() as usize % 64, 0);
        // SAFETY: intact, freed once.
        unsafe { a.drop_and_free() };
        let big = store::<dyn crate::traits::Any, _>([0u8; 200]);
        assert_eq!(big.recycled, None);
        // SAFETY: intact, freed once.
        unsafe { big.drop_and_free() };
    }

    #[test]
    fn moved_out_values_are_freed_without_drop() {
        let drops = Cell::new(0);
        let a = store::<dyn crate::traits::Any, _>(Counted(&drops, [7, 8, 9]));
        // SAFETY: move the value out, as an FnOnce call does, then free the block.
        let moved = unsafe { a.ptr.cast::<Counted<'_>>().read() };
        // SAFETY: the value was moved out; freed once.
        unsafe { a.free_without_drop() };
        assert_eq!(drops.get(), 0);
        drop(moved);
        assert_eq!(drops.get(), 1);
    }
}
