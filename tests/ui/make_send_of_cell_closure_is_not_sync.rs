// `thunk_factory::make_send` promises a `Send` thunk for a `Send` closure. A closure that
// captures a `Cell` is `Send` but not `Sync`, so its thunk must not be `Sync` either, and
// `BareFnSync` (callable from several threads at once) must reject it: otherwise two threads
// can race on the `Cell` through the bare pointer.
use closure_ffi::{thunk_factory, BareFnSync};
use std::cell::Cell;

fn main() {
    let hits = Cell::new(0u32);
    let thunk =
        thunk_factory::make_send::<unsafe extern "C" fn(u32) -> u32, _>(move |(x,): (u32,)| {
            hits.set(hits.get() + x);
            hits.get()
        });
    let f = BareFnSync::with_thunk(thunk);
    let _ = f;
}
