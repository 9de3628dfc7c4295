//! A `CType` is `'static`; alignments above `MAX_ALIGN` cannot be described.
use closure_ffi::dynamic::CType;

#[derive(Clone, Copy, CType)]
#[repr(C)]
struct Borrowing<'a> {
    p: *const &'a u8,
}

#[derive(Clone, Copy, CType)]
#[repr(C, align(8192))]
struct HugeAlign(u8);

fn main() {}
