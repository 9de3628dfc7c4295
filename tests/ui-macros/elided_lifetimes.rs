// Every lifetime of the signature must be named: `&T` and `'_` are rejected (elision inside
// a nested `fn(&u8)` is fine: that pointer binds its own lifetime).
closure_ffi::bare_hrtb! {
    type ElidedReference = for<'a> extern "C" fn(&u8, &'a u8, fn(&u8)) -> &'a u8;
    type Placeholder = for<'a> extern "C" fn(&'a u8, std::borrow::Cow<'_, str>) -> &'a u8;
    type ElidedReturn = for<'a> extern "C" fn(&'a u8) -> &u8;
}

fn main() {}
