// C-variadic signatures are not supported by bare_hrtb!.
closure_ffi::bare_hrtb! {
    type Printf = for<'a> unsafe extern "C" fn(&'a u8, ...) -> i32;
}

fn main() {}
