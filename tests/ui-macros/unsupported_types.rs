// A function pointer type cannot have `impl Trait` arguments or return types; `_` and type
// macros are rejected too (the macro cannot see the lifetimes inside a type macro).
closure_ffi::bare_hrtb! {
    type ImplArg = for<'a> extern "C" fn(&'a u8, impl Fn(u8) -> u8) -> &'a u8;
    type ImplRet = for<'a> extern "C" fn(&'a u8) -> impl Copy;
    type Infer = for<'a> extern "C" fn(&'a u8, _) -> &'a u8;
}

macro_rules! byte {
    () => {
        u8
    };
}

closure_ffi::bare_hrtb! {
    type Macro = for<'a> extern "C" fn(&'a u8, byte!()) -> &'a u8;
}

fn main() {
    let _: byte!() = 0;
}
