//! Every field type must be a `CType`; the error points at the field.
use core::marker::PhantomData;

use closure_ffi::dynamic::CType;

#[derive(Clone, Copy)]
struct NotC(u32);

#[derive(Clone, Copy, CType)]
#[repr(C)]
struct S {
    fine: u32,
    not_c: NotC,
    in_array: [bool; 2],
    marker: PhantomData<u8>,
}

fn main() {}
