//! Targets other than Linux: no placement near the code yet, so every chunk and large block
//! comes from jit-allocator2 (see "Placement" in the [pool docs](super)).

/// Memory mapped near the program's code; there is none on this target.
pub(super) enum NearMapping {}

impl NearMapping {
    /// Always `None` here: the pool falls back to jit-allocator2.
    pub(super) fn map(len: usize, dual: bool) -> Option<Self> {
        let _ = (len, dual);
        None
    }

    /// The executable view.
    pub(super) fn rx(&self) -> *const u8 {
        match *self {}
    }

    /// The writable view.
    pub(super) fn rw(&self) -> *mut u8 {
        match *self {}
    }

    /// Unmaps both views.
    ///
    /// # Safety
    /// No one may use the memory afterwards.
    pub(super) unsafe fn unmap(self) {
        match self {}
    }
}
