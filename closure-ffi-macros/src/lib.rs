//! Procedural macros for `closure-ffi`: the implementation of `closure_ffi::bare_hrtb!` and
//! `#[derive(CType)]`.
//!
//! Do not use this crate directly: `closure_ffi::bare_hrtb!` (feature `proc_macros`) is a
//! `macro_rules!` wrapper that passes its own `$crate` to [`bare_hrtb_impl!`], because a
//! procedural macro cannot know under which path `closure_ffi` is reachable; the derive is
//! re-exported as `closure_ffi::dynamic::CType`, next to the trait it implements.
//!
//! Each macro is a pipeline: parse (tokens to a syntactic model), validate (misuses become
//! errors spanned on the offending tokens), expand (the generated items). `bare_hrtb!`'s is
//! `parse`, `validate` (with `lifetimes`, which analyzes the signature's lifetimes and plans
//! its `FnPtr` view) and `expand`; the derive's is in `ctype`.

mod ctype;
mod errors;
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

/// Derives `closure_ffi::dynamic::CType` for a `#[repr(C)]` struct or union: its C type
/// description, built from the `CType` impls of its field types.
///
/// Import it with the trait, as `closure_ffi::dynamic::CType` (feature `proc_macros`,
/// x86_64 only for now, like the rest of the typed dynamic layer).
///
/// ```ignore
/// use closure_ffi::dynamic::{arg, Abi, CType, Cif, CodePtr, Type};
///
/// #[derive(Clone, Copy, Debug, PartialEq, CType)]
/// #[repr(C)]
/// struct Point {
///     x: f64,
///     y: f64,
/// }
///
/// #[derive(Clone, Copy, Debug, PartialEq, CType)]
/// #[repr(C, align(16))]
/// struct Segment(Point, Point, [u16; 3]);
///
/// assert_eq!(Point::ffi_type(), Type::structure([Type::F64, Type::F64])?);
/// assert_eq!(Segment::ffi_type().size(), core::mem::size_of::<Segment>());
///
/// extern "C" fn mirror(p: Point) -> Point {
///     Point { x: p.y, y: p.x }
/// }
/// let cif = Cif::new(Abi::DEFAULT, [Point::ffi_type()], Point::ffi_type())?;
/// let p = Point { x: 1.0, y: 2.0 };
/// // SAFETY: `mirror` has the Cif's signature.
/// let q: Point = unsafe { cif.call(CodePtr::new(mirror as *const _), &[arg(&p)]) }?;
/// assert_eq!(q, Point { x: 2.0, y: 1.0 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// (This example is compiled and run by the `doc_example` test of `tests/derive_ctype.rs`:
/// this crate cannot depend on `closure_ffi` to run it here.)
///
/// # Accepted
/// - Structs with named or tuple fields and `#[repr(C)]`, described by
///   `Type::structure`; unions with `#[repr(C)]`, described by `Type::union`.
/// - `#[repr(C, align(N))]` (or `#[repr(C)] #[repr(align(N))]`): the description is raised
///   to that alignment with `Type::aligned`, like C's `__attribute__((aligned(N)))`.
/// - Fields whose types are `CType`s (scalars, raw pointers, `LongDouble`, `Complex`,
///   other derived types) and arrays of them, `[T; N]` (nested too), described by
///   `Type::array`: the field type must be written as an array, since an array is not a
///   `CType` by itself (C passes arrays by address; inside an aggregate they are members).
/// - Type and const parameters. For a type with type parameters, the impl requires each
///   parameter to be `'static`, each field (or array element) type that mentions one to be
///   a `CType`, and the type to be `Copy`.
///
/// The type must also be `Copy` (derive it: `CType: Copy + 'static`).
///
/// # Refused at compile time
/// - Enums, with or without fields: C code may return any integer, and an invalid
///   discriminant is undefined behaviour. Use the integer type and convert.
/// - A missing `#[repr(C)]` (Rust's own layout is unspecified), `#[repr(transparent)]`
///   (implement `CType` by hand, returning the field's `ffi_type()`), and `packed` layouts,
///   which C and libffi cannot describe.
/// - Types without fields: C has no empty structs and libffi refuses them.
/// - Zero-sized fields (`()`, `[T; 0]`, `PhantomData` — the last is no `CType` either): C
///   has no zero-sized members. Those not visible in the syntax fail a `const` assertion
///   when `ffi_type` is instantiated.
/// - Lifetime parameters (a `CType` is `'static`), and alignments above
///   `closure_ffi::dynamic::types::MAX_ALIGN`.
/// - Fields whose types are not `CType` (rustc reports the missing impl on the field type).
///
/// # The generated `ffi_type()`
/// A non-generic type builds its description once and returns clones (a reference-count
/// increment); a generic type builds it at each call (a few reference-counted allocations;
/// keep the `Type` or a `Cif` built from it if that matters). In builds with debug assertions it
/// checks the description's size, alignment and field offsets against rustc's
/// (`size_of`, `align_of`, `offset_of!`), which catches a wrong hand-written `CType` impl
/// of a field type. It panics, naming the type and the `TypeError`, if the description
/// cannot be built: only for limits C compilers do not reach either (nesting deeper than
/// `MAX_DEPTH`, a size above `MAX_SIZE`) or a wrong field impl; any stand-in `Type` would
/// describe a layout other than `Self`'s, which callers rely on for memory safety.
#[proc_macro_derive(CType)]
pub fn derive_ctype(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as ctype::parse::Input);
    match ctype::validate::validate(input) {
        Ok(checked) => ctype::expand::expand(&checked).into(),
        Err(errors) => errors.to_compile_error().into(),
    }
}
