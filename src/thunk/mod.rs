//! Thunk instantiation: from a monomorphized template to a callable bare function pointer.
//!
//! ```text
//!   caller --call--> [thunk copy: relocated prologue | stub: ptr = closure | jmp back]
//!                                                                             |
//!   template:  [prologue | stub (never run) | magic] [continuation: body, epilogue, ret]
//!                                                     ^-------------------------'
//! ```
//!
//! Creating a thunk for a capturing closure:
//! 1. look the template up in the per-template cache (relocated once per template with
//!    Capstone: `arch::native::prepare`);
//! 2. allocate `code.len()` (+ a `OnceHeader` for `FnOnce`) bytes from the [`JitAlloc`];
//! 3. `protect_jit_memory(ReadWrite)`, copy the prepared code through the **writable** view,
//!    store the closure pointer in the stub's slot, apply the fixups;
//! 4. `protect_jit_memory(ReadExecute)`, flush the I-cache, hand out the **executable**
//!    view.
//!
//! A zero-sized closure needs none of this: its template conjures the closure, and the
//! template itself is the pointer.

mod cache;
pub(crate) mod once;
mod prepared;

use core::fmt;
use core::ptr;

pub use prepared::{Fixup, PreparedTemplate, RelocError};

use crate::jit_alloc::{JitAlloc, JitAllocError, ProtectJitAccess};

/// Why a thunk could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThunkError {
    /// The [`JitAlloc`] could not allocate executable memory.
    Alloc(JitAllocError),
    /// The template's prologue could not be relocated (or its stub was not found).
    Relocation(RelocError),
}

impl fmt::Display for ThunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThunkError::Alloc(e) => write!(f, "cannot create thunk: {e}"),
            ThunkError::Relocation(e) => write!(f, "cannot create thunk: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ThunkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ThunkError::Alloc(e) => Some(e),
            ThunkError::Relocation(e) => Some(e),
        }
    }
}

impl From<JitAllocError> for ThunkError {
    fn from(e: JitAllocError) -> Self {
        ThunkError::Alloc(e)
    }
}

impl From<RelocError> for ThunkError {
    fn from(e: RelocError) -> Self {
        ThunkError::Relocation(e)
    }
}

/// Lets code written for closure-ffi 5.x, whose fallible constructors returned
/// `JitAllocError`, keep using `?` into that type.
impl From<ThunkError> for JitAllocError {
    fn from(_: ThunkError) -> Self {
        JitAllocError
    }
}

/// Whether a thunk value `T` is conjured by its template instead of being stored behind a
/// stub pointer: zero-sized, and for `FnOnce` (`once`) also without drop glue (a conjured
/// value that is also dropped by its owner would be dropped twice).
#[doc(hidden)]
#[inline(always)]
pub const fn conjurable<T>(once: bool) -> bool {
    core::mem::size_of::<T>() == 0 && !(once && core::mem::needs_drop::<T>())
}

/// Returns the prepared (relocated) form of `template`, from the cache or computed now.
///
/// # Safety
/// `template` must be the entry of a thunk template (a function containing the stub).
#[inline]
unsafe fn prepared(template: *const u8) -> Result<&'static PreparedTemplate, ThunkError> {
    let entry = crate::arch::native::code_address(template);
    let cached = cache::get_or_prepare(entry, || {
        // SAFETY: forwarded from the caller.
        unsafe { crate::arch::native::prepare(entry) }
    });
    cached.as_ref().map_err(|e| ThunkError::Relocation(*e))
}

/// Executable memory holding one thunk, released on drop.
pub(crate) struct AllocatedThunk<A: JitAlloc> {
    /// The pointer handed out (the thunk copy, or the template itself for a ZST closure).
    pub(crate) entry: *const u8,
    /// Start of the allocation (its executable view); null when nothing was allocated.
    pub(crate) alloc_rx: *const u8,
    /// Writable view of the [`OnceHeader`](once::OnceHeader), for `FnOnce` thunks; null otherwise.
    pub(crate) once_header: *mut once::OnceHeader,
    pub(crate) alloc: A,
}

impl<A: JitAlloc> AllocatedThunk<A> {
    /// A thunk for a zero-sized closure: the template itself, nothing allocated.
    #[inline(always)]
    pub(crate) fn zst(template: *const u8, alloc: A) -> Self {
        Self {
            entry: template,
            alloc_rx: ptr::null(),
            once_header: ptr::null_mut(),
            alloc,
        }
    }

    /// Creates a thunk copy of `template` whose stub loads `ctx`.
    ///
    /// With `once = true`, a [`OnceHeader`](once::OnceHeader) is placed after the code (in the same
    /// allocation) and the stub loads a pointer to it instead; the header points to `ctx`.
    ///
    /// # Safety
    /// `template` must be a thunk template whose stub pointer is interpreted as `ctx` (or as
    /// a `*const OnceHeader` when `once`), and `ctx` must stay valid while the thunk may be
    /// called.
    pub(crate) unsafe fn new(
        template: *const u8,
        ctx: *const u8,
        once: bool,
        alloc: A,
    ) -> Result<Self, ThunkError> {
        // SAFETY: forwarded from the caller.
        let prep = unsafe { prepared(template)? };
        let code_len = prep.code.len();
        let header_off = code_len.next_multiple_of(core::mem::align_of::<once::OnceHeader>());
        let total = if once {
            header_off + core::mem::size_of::<once::OnceHeader>()
        } else {
            code_len
        };

        let (rx, rw) = crate::jit_alloc::alloc_code(&alloc, total)?;
        // SAFETY: `rx..rx+total` / `rw..rw+total` were just allocated for us: exclusive,
        // valid, and not yet executable by anyone (the pointer is not handed out yet).
        unsafe {
            alloc.protect_jit_memory(rx, total, ProtectJitAccess::ReadWrite);
            ptr::copy_nonoverlapping(prep.code.as_ptr(), rw, code_len);
            let slot_value = if once {
                let header = rw.add(header_off).cast::<once::OnceHeader>();
                header.write(once::OnceHeader::new(ctx.cast_mut()));
                header as usize
            } else {
                ctx as usize
            };
            rw.add(prep.closure_slot)
                .cast::<usize>()
                .write_unaligned(slot_value);
            for fixup in prep.fixups.iter() {
                if let Err(e) = apply_fixup(rw, rx, fixup) {
                    alloc.protect_jit_memory(rx, total, ProtectJitAccess::ReadExecute);
                    let _ = alloc.release(rx);
                    return Err(e.into());
                }
            }
            alloc.protect_jit_memory(rx, total, ProtectJitAccess::ReadExecute);
            alloc.flush_instruction_cache(rx, code_len);
        }
        Ok(Self {
            entry: crate::arch::native::thunk_address(rx),
            alloc_rx: rx,
            once_header: if once {
                // SAFETY: in bounds of the allocation (see `total`).
                unsafe { rw.add(header_off).cast() }
            } else {
                ptr::null_mut()
            },
            alloc,
        })
    }
}

/// Writes one position-dependent patch into a copy placed at `rx` (written through `rw`).
///
/// # Safety
/// `rw` must be the writable view of at least the bytes the fixup touches.
#[inline]
unsafe fn apply_fixup(rw: *mut u8, rx: *const u8, fixup: &Fixup) -> Result<(), RelocError> {
    match *fixup {
        Fixup::Rel32 { at, target } => {
            let next = rx as u64 + at as u64 + 4;
            let disp = target.wrapping_sub(next) as i64;
            // On 32-bit targets every address is in range (the sum wraps in 32 bits).
            let disp32 = if usize::BITS == 32 {
                disp as i32
            } else {
                i32::try_from(disp).map_err(|_| RelocError::OutOfRange { offset: at })?
            };
            // SAFETY: forwarded from the caller; `at + 4 <= code.len()` by the relocator.
            unsafe { rw.add(at).cast::<i32>().write_unaligned(disp32) };
            Ok(())
        }
        Fixup::Branch26 { at, target } => {
            let word = crate::arch::aarch64::reloc::branch26(rx as u64 + at as u64, target)
                .ok_or(RelocError::OutOfRange { offset: at })?;
            // SAFETY: forwarded from the caller; `at + 4 <= code.len()` by the relocator.
            unsafe { rw.add(at).cast::<u32>().write_unaligned(word) };
            Ok(())
        }
    }
}

impl<A: JitAlloc> Drop for AllocatedThunk<A> {
    fn drop(&mut self) {
        if !self.alloc_rx.is_null() {
            // SAFETY: allocated by `self.alloc` in `new`, released exactly once here; the
            // owner guarantees the thunk is no longer called.
            let _ = unsafe { self.alloc.release(self.alloc_rx) };
        }
    }
}
