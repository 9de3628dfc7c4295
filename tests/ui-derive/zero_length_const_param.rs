//! A zero-length array through a const parameter fails an assertion when `ffi_type` is
//! instantiated with that length.
use closure_ffi::dynamic::CType;

#[derive(Clone, Copy, CType)]
#[repr(C)]
struct ConstLen<const N: usize> {
    a: u32,
    data: [u8; N],
}

fn main() {
    let _ = ConstLen::<1>::ffi_type();
    let _ = ConstLen::<0>::ffi_type();
}
