//! The impls `#[derive(CType)]` generates pass strict lints in the crate that uses it, and
//! every accepted shape builds and runs (this `pass` case also makes trybuild *build* the
//! compile-fail cases, so the post-monomorphization assertions are seen).
#![deny(warnings, missing_docs, unsafe_op_in_unsafe_fn, unreachable_pub)]
#![deny(clippy::all, clippy::undocumented_unsafe_blocks)]
#![no_std]

use closure_ffi::dynamic::CType;

/// A public struct with named fields.
#[derive(Clone, Copy, CType)]
#[repr(C)]
pub struct Named {
    /// A byte.
    pub a: u8,
    /// A pointer.
    pub p: *mut Named,
}

/// A tuple struct with an array and a raised alignment.
#[derive(Clone, Copy, CType)]
#[repr(C, align(64))]
pub(crate) struct Tuple(Named, [[f32; 2]; 3]);

/// A union.
#[derive(Clone, Copy, CType)]
#[repr(C)]
pub union Union {
    /// An integer.
    pub i: i64,
    /// A float.
    pub f: f32,
}

/// Type and const parameters, with a `where` clause.
#[derive(Clone, Copy, CType)]
#[repr(C)]
pub struct Generic<T, U, const N: usize>
where
    T: Copy,
{
    /// Elements.
    pub items: [T; N],
    /// Something pointed at.
    pub ptr: *const U,
}

/// Items the generated code must not be confused by.
#[allow(non_upper_case_globals)]
pub mod shadowing {
    use closure_ffi::dynamic::CType;

    const ty: u8 = 0;
    const error: u8 = 0;
    #[allow(dead_code)]
    struct Type;
    #[allow(dead_code)]
    struct Result;
    #[allow(dead_code)]
    fn layout_failed() {}

    /// Uses the names above.
    #[derive(Clone, Copy, CType)]
    #[repr(C)]
    pub struct Shadowed {
        /// A field named like a local of the expansion.
        pub ty: [u8; 2],
    }

    pub(crate) fn check() {
        let _ = (ty, error);
        let _ = Shadowed::ffi_type();
    }
}

fn main() {
    let _ = Named::ffi_type();
    let _ = Tuple::ffi_type();
    let _ = Union::ffi_type();
    let _ = Generic::<u16, [u8; 3], 5>::ffi_type();
    shadowing::check();
}
