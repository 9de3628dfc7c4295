// With four bound lifetimes, the fourth is `'static` in the `FnPtr` view, so
// `FnPtr::make_*_thunk` (which `thunk_factory` uses) cannot build a thunk: a closure over the
// packed arguments cannot stand for the higher-ranked closure. The error comes at
// monomorphization (`cargo build`, not `cargo check`).
use closure_ffi::traits::FnPtr;

closure_ffi::bare_hrtb! {
    type Four = for<'a, 'b, 'c, 'd> extern "C" fn(&'a u8, &'b u8, &'c u8, &'d u8) -> &'d u8;
}

fn main() {
    let thunk = Four::make_thunk(|(_, _, _, d)| d);
    let _ = closure_ffi::BareFn::<Four>::with_thunk(thunk);
}
