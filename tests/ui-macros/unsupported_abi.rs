// Only the ABIs closure-ffi has calling-convention markers for (a misspelled one gets a
// suggestion).
closure_ffi::bare_hrtb! {
    type Misspelled = for<'a> extern "c" fn(&'a u8) -> &'a u8;
    type Unknown = for<'a> extern "vectorcall" fn(&'a u8) -> &'a u8;
}

fn main() {}
