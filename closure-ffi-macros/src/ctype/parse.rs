//! Parsing: the derive input, with its `#[repr(..)]` attributes read into a list of items.
//!
//! ```text
//! repr := "#" "[" "repr" "(" item ("," item)* ","? ")" "]"
//! item := "C" | "align" "(" LitInt ")" | "packed" ("(" LitInt ")")? | path ("(" tokens ")")?
//! ```
//!
//! Every `#[repr(..)]` attribute of the item contributes its items, in order (`#[repr(C)]
//! #[repr(align(8))]` is `#[repr(C, align(8))]`). Items other than `C`, `align` and
//! `packed` are kept by name; [`validate`](super::validate) says what they mean here and
//! rustc judges the rest.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{Data, DeriveInput, Generics, Ident, LitInt, Path};

/// The item the derive is applied to.
pub struct Input {
    /// The type's name.
    pub ident: Ident,
    /// Its generic parameters and `where` clause.
    pub generics: Generics,
    /// The items of its `#[repr(..)]` attributes, in order.
    pub repr: Vec<Repr>,
    /// The struct, union or enum body.
    pub data: Data,
}

/// One item of a `#[repr(..)]` attribute.
pub enum Repr {
    /// `C`.
    C(Path),
    /// `align(N)`.
    Align {
        /// The `align` keyword, for spans.
        path: Path,
        /// `N`.
        align: LitInt,
    },
    /// `packed` or `packed(N)`.
    Packed(Path),
    /// Anything else (`transparent`, `Rust`, an integer type, ...); its arguments are
    /// skipped.
    Other(Path),
}

impl Repr {
    /// The item's name, for error spans.
    pub fn path(&self) -> &Path {
        match self {
            Repr::C(path) | Repr::Packed(path) | Repr::Other(path) => path,
            Repr::Align { path, .. } => path,
        }
    }
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let derive: DeriveInput = input.parse()?;
        let mut repr = Vec::new();
        for attr in derive.attrs.iter().filter(|a| a.path().is_ident("repr")) {
            attr.parse_nested_meta(|meta| {
                let path = meta.path.clone();
                let item = if path.is_ident("C") {
                    Repr::C(path)
                } else if path.is_ident("align") {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    Repr::Align {
                        path,
                        align: content.parse()?,
                    }
                } else if path.is_ident("packed") {
                    if meta.input.peek(syn::token::Paren) {
                        let content;
                        syn::parenthesized!(content in meta.input);
                        content.parse::<LitInt>()?;
                    }
                    Repr::Packed(path)
                } else {
                    if meta.input.peek(syn::token::Paren) {
                        let content;
                        syn::parenthesized!(content in meta.input);
                        content.parse::<TokenStream>()?;
                    }
                    Repr::Other(path)
                };
                repr.push(item);
                Ok(())
            })?;
        }
        Ok(Self {
            ident: derive.ident,
            generics: derive.generics,
            repr,
            data: derive.data,
        })
    }
}
