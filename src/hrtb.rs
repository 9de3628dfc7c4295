//! `bare_hrtb!`: bare function pointer types with higher-ranked lifetimes.
//!
//! The proc macro (`closure-ffi-macros`) cannot know the path of this crate, so the public
//! macro is this `macro_rules!` wrapper, which passes its `$crate` along to the hidden
//! re-export `__bare_hrtb_impl!`.

/// Declares a bare function pointer type with higher-ranked (`for<'a, ..>`) lifetimes, for
/// [`BareFn`](crate::BareFn) and friends.
///
/// The built-in [`FnPtr`](crate::traits::FnPtr) impls cover `unsafe extern "<abi>" fn`
/// pointers whose types name no bound lifetime. A signature such as
/// `for<'a, 'b> extern "C" fn(&'a CStr, &'b CStr) -> &'a CStr`, whose result borrows from an
/// argument, needs a type of its own: this macro declares it.
///
/// # Grammar
/// One or more type-alias items:
///
/// ```text
/// #[attrs] vis type Name<params> where .. = for<'a, ..> unsafe extern "abi" fn(Args) -> Ret;
/// ```
///
/// - everything but `type Name = fn(..);` is optional; the `where` clause may be written
///   before the `=` (as closure-ffi 5.x had it) or after the type;
/// - `unsafe` is implied: the stored pointer is always `unsafe`;
/// - the ABI is one closure-ffi has a [calling-convention marker](crate::cc) for: `"Rust"`
///   (also when there is no `extern`), `"C"` (also for a bare `extern`), `"system"`,
///   `"efiapi"`, `"sysv64"`, `"win64"`, `"cdecl"`, `"stdcall"`, `"fastcall"`,
///   `"thiscall"`, `"aapcs"`, and their `-unwind` forms (not `"efiapi"`). Any other string is an error;
///   an ABI the target lacks is rejected by rustc;
/// - every lifetime of the signature is named: declared in `for<..>` and used by an
///   argument, or a parameter of the alias (elision inside a nested `fn(&T)` or
///   `dyn Fn(&T)` is fine: those bind their own lifetimes);
/// - `#[cfg]` on an alias applies to every generated item; other attributes (doc comments
///   included) go on the newtype.
///
/// These are compile errors, each pointing at the offending tokens and saying what to
/// write instead: a right-hand side that is not a function pointer type; an elided
/// lifetime (`&T`, `'_`); an undeclared lifetime; a `for<..>` lifetime that is unused,
/// used only by the return type, declared twice, bounded (`for<'b: 'a>`) or shadowing a
/// parameter of the alias; a C-variadic signature (`...`, not supported); an unknown ABI;
/// `impl Trait`, `_` or a type macro among the argument or return types.
///
/// # Generated items
/// For `vis type Name<P> = for<'a, ..> extern "abi" fn(Args) -> Ret;`:
/// - `#[repr(transparent)] vis struct Name<P>(pub for<'a, ..> unsafe extern "abi" fn(Args) -> Ret);`
///   with the alias's attributes;
/// - `vis struct Name_CC;`, the calling-convention marker of the signature (`Debug`,
///   `Clone`, `Copy`, `Default`, `PartialEq`, `Eq`, `Hash`), also given by
///   `Name::cc()`: `BareFn::with_cc(Name_CC, closure)` infers `Name`;
/// - `Clone`, `Copy`, `Debug`, `From<fn ptr> for Name`, `From<Name> for fn ptr` and
///   `Deref<Target = fn ptr>`, so `name(args)` calls the pointer;
/// - `unsafe impl FnPtr for Name<P>` with `CC = Name_CC`;
/// - `unsafe impl Fn{Once,Mut,}Thunk<Name<P>> for (Name_CC, F)` for every closure `F`
///   implementing the higher-ranked signature, with the same thunk templates as the
///   built-in signatures (a zero-sized closure's thunk is the template itself).
///
/// # Limits
/// The thunk templates carry the full higher-ranked signature: any closure implementing it
/// can be wrapped, and the pointer is fully higher-ranked. What is limited is the `FnPtr`
/// *view* of the signature (`FnPtr::Args<'a, 'b, 'c>` and `Ret<'a, 'b, 'c>`, used by
/// `FnPtr::call`, `Fn*Thunk::call*` and [`thunk_factory`](crate::thunk_factory)): those
/// GATs have three lifetimes and no `where` clause, so they cannot state the outlives
/// relations a function pointer type implies. The view is therefore an instance of the
/// signature:
/// - a bound lifetime that must outlive another lifetime of the signature (`'b` in
///   `&'a &'b u8` or `&'a mut Formatter<'b>`) is `'static` in the view; of the other bound
///   lifetimes, the first three (in declaration order) are the GAT lifetimes and the rest
///   are `'static`. Such a signature works with `BareFn*::new` and `with_cc`, but `FnPtr::make_*_thunk` (so `thunk_factory`) cannot build thunks for it:
///   using them is a compile error that says so, reported at monomorphization (by
///   `cargo build`, not `cargo check`);
/// - the `FnPtr` and `Fn*Thunk` impls require `'static` of each parameter of the alias that
///   appears under a bound lifetime (`T` in `&'a Option<T>`, `Cow<'a, T>` or
///   `&'a dyn Trait<T>`; `'c` in `&'a &'c u8`). The newtype and its conversions accept any
///   parameters, and a parameter that appears elsewhere (`fn(&'a u8, T) -> T`) need not be
///   `'static`. closure-ffi 5.x asked the user to write these bounds; they are inferred.
///
/// The `extern "C"` signature with a Rust type such as `&CStr` draws rustc's
/// `improper_ctypes_definitions` warning once, on the alias, as a plain type alias would;
/// `#[allow(improper_ctypes_definitions)]` on the alias silences it.
///
/// # Example
/// ```
/// use closure_ffi::{bare_hrtb, BareFn};
/// use std::ffi::CStr;
///
/// bare_hrtb! {
///     /// Returns the first string, or a default when it is too short.
///     #[allow(improper_ctypes_definitions)] // `&CStr` is not a C type; Rust calls it
///     type PickFn = for<'a, 'b> extern "C" fn(&'a CStr, &'b CStr) -> &'a CStr;
/// }
///
/// let min_len = 3; // decided at run time
/// let pick = BareFn::<PickFn>::new(move |a, _b| {
///     if a.to_bytes().len() >= min_len { a } else { c"default" }
/// });
/// let f: PickFn = pick.bare();
/// let first = c"hello".to_owned();
/// {
///     let second = c"short-lived".to_owned();
///     // SAFETY: `pick` is alive.
///     let got = unsafe { f(&first, &second) };
///     assert!(std::ptr::eq(got, first.as_c_str()));
/// }
/// // SAFETY: as above.
/// assert_eq!(unsafe { f(c"hi", c"x") }, c"default");
/// ```
#[macro_export]
macro_rules! bare_hrtb {
    ($($tokens:tt)*) => {
        $crate::__bare_hrtb_impl! { $crate; $($tokens)* }
    };
}
