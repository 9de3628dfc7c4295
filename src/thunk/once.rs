//! The header that makes `FnOnce` thunks safe to call once and to free after the call.
//!
//! An `FnOnce` thunk's stub loads a pointer to a [`OnceHeader`] (placed in the thunk's own
//! allocation, after the code, and written through the writable view) instead of the
//! closure pointer. The template calls [`OnceHeader::take`], which:
//! - atomically marks the closure as taken, and aborts with a message if it already was
//!   (a second call is detected, never undefined behaviour);
//! - moves the closure out of its box (the box memory itself is freed by the owner's drop,
//!   which knows from the state not to drop the closure again);
//! - if the owner handed the pointer out with `into_bare`, runs the release hook: the
//!   closure's box and the thunk's executable memory are freed *before the closure body
//!   runs*. This is sound because by then execution has left the thunk copy: `take` runs in
//!   the template, reached through the stub's jump.

use core::sync::atomic::{AtomicUsize, Ordering};

const READY: usize = 0;
const READY_RELEASE_AFTER_CALL: usize = 1;
const TAKEN: usize = 2;

/// The state of an `FnOnce` thunk: whether its closure was taken, where the closure is,
/// and the release hook armed by `into_bare` (see the `thunk::once` module source).
#[repr(C)]
pub struct OnceHeader {
    state: AtomicUsize,
    closure: *mut u8,
    release: Option<unsafe fn(*mut u8)>,
    release_ctx: *mut u8,
}

impl OnceHeader {
    pub(crate) fn new(closure: *mut u8) -> Self {
        Self {
            state: AtomicUsize::new(READY),
            closure,
            release: None,
            release_ctx: core::ptr::null_mut(),
        }
    }

    /// Whether the closure has been moved out by a call.
    ///
    /// # Safety
    /// `this` must point to a live header.
    pub(crate) unsafe fn is_taken(this: *const Self) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { (*this).state.load(Ordering::Acquire) == TAKEN }
    }

    /// Arms the release hook: after the single call, `release(ctx)` frees everything.
    ///
    /// # Safety
    /// `this` must point to a live header whose thunk has not been called, and `release`
    /// must be sound to run exactly once, from inside the call, before the closure body.
    pub(crate) unsafe fn arm_release(this: *mut Self, release: unsafe fn(*mut u8), ctx: *mut u8) {
        // SAFETY: forwarded from the caller; the pointer has not been handed out yet, so
        // nobody reads these fields concurrently. The release store publishes them.
        unsafe {
            (*this).release = Some(release);
            (*this).release_ctx = ctx;
            (*this)
                .state
                .store(READY_RELEASE_AFTER_CALL, Ordering::Release);
        }
    }

    /// Moves the closure out, detecting a second call and running the release hook. Used
    /// by `FnOnce` templates.
    ///
    /// # Safety
    /// `this` must be the header of a live `FnOnce` thunk whose closure has type `T`.
    #[inline(always)]
    pub unsafe fn take<T>(this: *const Self) -> T {
        // SAFETY: forwarded from the caller.
        let header = unsafe { &*this };
        let prev = header.state.swap(TAKEN, Ordering::AcqRel);
        if prev == TAKEN {
            called_twice();
        }
        // SAFETY: the state was not TAKEN, so the closure is still in its box; we now own it.
        let value = unsafe { header.closure.cast::<T>().read() };
        if prev == READY_RELEASE_AFTER_CALL {
            let (release, ctx) = (header.release, header.release_ctx);
            if let Some(release) = release {
                // SAFETY: armed by `arm_release`, run exactly once (the state is TAKEN now).
                // It frees this header; nothing reads it afterwards.
                unsafe { release(ctx) };
            }
        }
        value
    }
}

#[cold]
#[inline(never)]
extern "C" fn called_twice() -> ! {
    // A panic cannot unwind out of an `extern "C"` fn: this aborts the process, after the
    // panic hook has printed the message.
    panic!("closure-ffi: a BareFnOnce thunk was called a second time; aborting")
}
