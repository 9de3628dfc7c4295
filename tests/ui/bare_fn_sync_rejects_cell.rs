// `BareFnSync` may be called from several threads at once, so its closure must be `Sync`:
// one that captures a `Cell` is rejected.
use closure_ffi::BareFnSync;
use std::cell::Cell;

fn main() {
    let hits = Cell::new(0u32);
    let f = BareFnSync::new_c(move |x: u32| {
        hits.set(hits.get() + 1);
        x
    });
    let _ = f;
}
