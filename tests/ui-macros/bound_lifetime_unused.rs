// A `for<..>` lifetime must be used by an argument: `'b` is never used, and `'r` appears
// only in the return type (no argument constrains it).
closure_ffi::bare_hrtb! {
    type Unused = for<'a, 'b> extern "C" fn(&'a u8) -> &'a u8;
    type ReturnOnly = for<'a, 'r> extern "C" fn(&'a u8) -> &'r u8;
}

fn main() {}
