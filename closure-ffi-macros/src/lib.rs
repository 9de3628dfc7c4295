//! Procedural macros for `closure-ffi`: the implementation of `closure_ffi::bare_hrtb!`.
//!
//! Do not use this crate directly: `closure_ffi::bare_hrtb!` (feature `proc_macros`) is a
//! `macro_rules!` wrapper that passes its own `$crate` to [`bare_hrtb_impl!`], because a
//! procedural macro cannot know under which path `closure_ffi` is reachable.
//!
//! The macro is a pipeline: `parse` (tokens to a syntactic model), `validate` (misuses
//! become errors spanned on the offending tokens; `lifetimes` analyzes the signature's
//! lifetimes and plans its `FnPtr` view), `expand` (the generated items).

mod expand;
mod lifetimes;
mod parse;
mod validate;

use proc_macro::TokenStream;

/// `bare_hrtb_impl! { $crate; type Name<..> = for<..> extern "abi" fn(..) -> ..; .. }`:
/// the body of `closure_ffi::bare_hrtb!`. See that macro's documentation.
#[proc_macro]
pub fn bare_hrtb_impl(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as parse::Input);
    let checked = validate::validate(input);
    let mut output = expand::expand(&checked);
    if let Some(errors) = &checked.errors {
        output.extend(errors.to_compile_error());
    }
    output.into()
}
