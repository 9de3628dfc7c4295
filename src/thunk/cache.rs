//! The per-template cache of relocation results.
//!
//! A template's relocation never changes, so it is computed once and kept for the life of
//! the process (templates are static code). Lookups are lock-free: a fixed table of bucket
//! heads, each an insert-only linked list of leaked nodes published with a CAS. A lookup is a
//! hash, one acquire load and a short walk; nothing is locked or allocated after the first
//! thunk of a template.

use alloc::boxed::Box;
use core::ptr;
use core::sync::atomic::{AtomicPtr, Ordering};

use super::prepared::{PreparedTemplate, RelocError};

const BUCKET_BITS: u32 = 8;
const BUCKETS: usize = 1 << BUCKET_BITS;

struct Node {
    template: usize,
    prepared: Result<PreparedTemplate, RelocError>,
    next: *const Node,
}

// A `[AtomicPtr<Node>; N]` of nulls; `AtomicPtr::new` is const.
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: AtomicPtr<Node> = AtomicPtr::new(ptr::null_mut());
static TABLE: [AtomicPtr<Node>; BUCKETS] = [EMPTY; BUCKETS];

#[inline(always)]
fn bucket(template: usize) -> &'static AtomicPtr<Node> {
    // Fibonacci hashing of the address (low bits are alignment, so mix them all in).
    let h = (template as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - BUCKET_BITS);
    &TABLE[h as usize]
}

#[inline(always)]
fn find(mut node: *const Node, template: usize) -> Option<&'static Node> {
    while !node.is_null() {
        // SAFETY: nodes are leaked (never freed) and fully initialised before they are
        // published with a release CAS, which the acquire load of the head pairs with.
        let n = unsafe { &*node };
        if n.template == template {
            return Some(n);
        }
        node = n.next;
    }
    None
}

/// Returns the cached relocation of `template`, computing it with `prepare` on first use.
///
/// Concurrent first uses may both run `prepare`; one result is kept, the other dropped.
#[inline]
pub(crate) fn get_or_prepare(
    template: *const u8,
    prepare: impl FnOnce() -> Result<PreparedTemplate, RelocError>,
) -> &'static Result<PreparedTemplate, RelocError> {
    let key = template as usize;
    let head = bucket(key);
    if let Some(n) = find(head.load(Ordering::Acquire), key) {
        return &n.prepared;
    }
    insert_slow(head, key, prepare())
}

#[cold]
fn insert_slow(
    head: &'static AtomicPtr<Node>,
    template: usize,
    prepared: Result<PreparedTemplate, RelocError>,
) -> &'static Result<PreparedTemplate, RelocError> {
    let node = Box::into_raw(Box::new(Node {
        template,
        prepared,
        next: ptr::null(),
    }));
    let mut cur = head.load(Ordering::Acquire);
    loop {
        if let Some(existing) = find(cur, template) {
            // SAFETY: `node` was never published; we still own it.
            drop(unsafe { Box::from_raw(node) });
            return &existing.prepared;
        }
        // SAFETY: `node` is unpublished and exclusively ours.
        unsafe { (*node).next = cur };
        match head.compare_exchange_weak(cur, node, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: published nodes are leaked for the life of the process.
            Ok(_) => return unsafe { &(*node).prepared },
            Err(now) => cur = now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn prepared(tag: u8) -> Result<PreparedTemplate, RelocError> {
        Ok(PreparedTemplate {
            code: vec![tag].into_boxed_slice(),
            closure_slot: 0,
            fixups: Box::new([]),
        })
    }

    #[test]
    fn computes_once_and_keeps_distinct_keys_apart() {
        let a = 0x1000_0010 as *const u8;
        let b = 0x2000_0020 as *const u8;
        let first = get_or_prepare(a, || prepared(1));
        let again = get_or_prepare(a, || panic!("must not recompute"));
        assert!(core::ptr::eq(first, again));
        let other = get_or_prepare(b, || prepared(2));
        assert_eq!(other.as_ref().unwrap().code[0], 2);
        assert_eq!(first.as_ref().unwrap().code[0], 1);
    }

    #[test]
    fn caches_errors_too() {
        let t = 0x3000_0030 as *const u8;
        assert_eq!(
            get_or_prepare(t, || Err(RelocError::StubNotFound)),
            &Err(RelocError::StubNotFound)
        );
        assert_eq!(
            get_or_prepare(t, || panic!("must not recompute")),
            &Err(RelocError::StubNotFound)
        );
    }

    #[test]
    fn many_keys_in_one_bucket_chain() {
        // More keys than buckets forces chains.
        for i in 0..(BUCKETS * 3) {
            let t = (0x4000_0000 + i * 16) as *const u8;
            let v = get_or_prepare(t, || prepared((i % 251) as u8));
            assert_eq!(v.as_ref().unwrap().code[0], (i % 251) as u8);
        }
    }
}
