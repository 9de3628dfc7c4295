// A diverging signature cannot be represented: `FnPtr::Ret` cannot be `!` on stable Rust.
closure_ffi::bare_hrtb! {
    type Abort = for<'a> extern "C" fn(&'a u8) -> !;
}

fn main() {}
