//! Packed layouts have no C (or libffi) description.
use closure_ffi::dynamic::CType;

#[derive(Clone, Copy, CType)]
#[repr(C, packed)]
struct Packed {
    a: u8,
    b: u32,
}

#[derive(Clone, Copy, CType)]
#[repr(C, packed(2))]
struct Packed2(u8, u32);

fn main() {}
