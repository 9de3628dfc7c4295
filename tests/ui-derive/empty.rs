//! C has no empty structs (and libffi refuses them).
use closure_ffi::dynamic::CType;

#[derive(Clone, Copy, CType)]
#[repr(C)]
struct Braces {}

#[derive(Clone, Copy, CType)]
#[repr(C)]
struct Parens();

#[derive(Clone, Copy, CType)]
#[repr(C)]
struct Unit;

fn main() {}
