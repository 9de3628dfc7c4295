// `for<..>` declares plain, distinct lifetimes that do not shadow the alias's; a lifetime
// that is declared nowhere is an error too.
closure_ffi::bare_hrtb! {
    type Shadows<'a> = for<'a> extern "C" fn(&'a u8) -> &'a u8;
    type Bounded = for<'a, 'b: 'a> extern "C" fn(&'a u8, &'b u8) -> &'a u8;
    type Twice = for<'a, 'a> extern "C" fn(&'a u8) -> &'a u8;
    type Undeclared = for<'a> extern "C" fn(&'a u8, &'x u8) -> &'a u8;
}

fn main() {}
