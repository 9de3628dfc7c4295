// `BareFnMutSync` may be called from another thread, so its closure must be `Send`: one that
// captures an `Rc` is rejected.
use closure_ffi::BareFnMutSync;
use std::rc::Rc;

fn main() {
    let rc = Rc::new(5u32);
    let f = BareFnMutSync::new_c(move |x: u32| x + *rc);
    let _ = f;
}
