// `T` appears under the bound lifetime `'a`, so the `FnPtr` impl requires `T: 'static`
// (`FnPtr::Args<'a, ..>` cannot carry `T: 'a`). The newtype itself accepts any `T`.
closure_ffi::bare_hrtb! {
    type Lookup<T> = for<'a> extern "C" fn(&'a Option<T>) -> Option<&'a T>;
}

fn lookup<'x>(_: &'x str) {
    let _f = closure_ffi::BareFn::<Lookup<&'x str>>::new(|o| o.as_ref());
}

fn main() {
    lookup("static is fine, but `lookup` is generic over 'x");
}
