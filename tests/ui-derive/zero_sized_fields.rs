//! C has no zero-sized members: `()` and `[T; 0]` are refused from the syntax, and a
//! zero-sized type behind an alias fails an assertion at build time.
use closure_ffi::dynamic::CType;

#[derive(Clone, Copy, CType)]
#[repr(C)]
struct Syntax {
    unit: (),
    empty: [u32; 0],
}

type Unit = ();

#[derive(Clone, Copy, CType)]
#[repr(C)]
struct Alias {
    a: u32,
    unit: Unit,
}

fn main() {
    let _ = Alias::ffi_type();
}
