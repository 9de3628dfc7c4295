//! `CType: Copy`: the derive does not make the type `Copy`.
use closure_ffi::dynamic::CType;

#[derive(CType)]
#[repr(C)]
struct NotCopy {
    a: u32,
}

#[derive(CType)]
#[repr(C)]
struct GenericNotCopy<T> {
    a: T,
}

fn main() {
    let _ = GenericNotCopy::<u32>::ffi_type();
}
