//! The items `bare_hrtb!` generates pass strict lints in the crate that invokes it, and
//! every kind of signature builds and runs (this `pass` case also makes trybuild *build*
//! the compile-fail cases, so post-monomorphization errors are seen).
#![deny(warnings, missing_docs, unsafe_op_in_unsafe_fn, unreachable_pub)]
#![deny(clippy::all, clippy::undocumented_unsafe_blocks)]

use closure_ffi::{bare_hrtb, BareFn};

bare_hrtb! {
    /// A documented public signature.
    pub type Pick = for<'a, 'b> extern "C" fn(&'a u8, &'b u8) -> &'a u8;

    /// Generic, with a pinned lifetime and more than three bound lifetimes.
    pub(crate) type Many<T> where T: Copy = for<'a, 'b, 'c, 'd, 'e> fn(
        &'a &'b T,
        &'c u8,
        &'d u8,
        &'e u8,
    ) -> &'a T;

    type Unit = fn();
}

fn main() {
    let k = 1u8;
    let pick = BareFn::<Pick>::new(move |a, _| {
        let _ = k;
        a
    });
    let many = BareFn::<Many<u16>>::new(|a, _, _, _| *a);
    let unit = BareFn::<Unit>::new(|| {});
    let (x, y, n) = (1u8, 2u8, 7u16);
    // SAFETY: the owners are alive.
    unsafe {
        assert_eq!(*pick.bare()(&x, &y), 1);
        assert_eq!(*many.bare()(&&n, &x, &x, &x), 7);
        unit.bare()();
    }
}
