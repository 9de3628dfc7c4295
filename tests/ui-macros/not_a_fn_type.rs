// The right-hand side must be a function pointer type.
closure_ffi::bare_hrtb! {
    type NotAFunction = Option<u32>;
}

fn main() {}
