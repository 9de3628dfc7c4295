// A `BareFn` (erased as `dyn Any`) holding a closure that captures an `Rc` must be neither
// `Send` nor `Sync`: moving it to, or sharing it with, another thread would let two threads
// touch the `Rc`'s counter.
use closure_ffi::BareFn;
use std::rc::Rc;

fn require_send<T: Send>(_: T) {}
fn require_sync<T: Sync>(_: &T) {}

fn main() {
    let rc = Rc::new(5u32);
    let f = BareFn::new_c(move |x: u32| x + *rc);
    require_sync(&f);
    require_send(f);
}
