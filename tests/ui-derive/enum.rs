//! Enums are refused: C may hand back an invalid discriminant.
use closure_ffi::dynamic::CType;

#[derive(Clone, Copy, CType)]
#[repr(C)]
enum Fieldless {
    A,
    B,
}

#[derive(Clone, Copy, CType)]
#[repr(C, u8)]
enum WithFields {
    A(u32),
    B { x: f64 },
}

fn main() {}
