//! Without `#[repr(C)]`, Rust may reorder the fields.
use closure_ffi::dynamic::CType;

#[derive(Clone, Copy, CType)]
struct NoRepr {
    a: u8,
    b: u32,
}

#[derive(Clone, Copy, CType)]
#[repr(align(8))]
struct OnlyAlign(u8);

#[derive(Clone, Copy, CType)]
#[repr(transparent)]
struct Transparent(u32);

fn main() {}
