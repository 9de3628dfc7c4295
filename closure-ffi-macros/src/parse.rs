//! Parsing: the macro input into a syntactic model, judging nothing but the grammar.
//!
//! ```text
//! input := $crate ";" alias+
//! alias := attr* vis "type" Name generics? where? "=" Type where? ";"
//! ```
//!
//! `$crate` is the path of `closure_ffi` as the `bare_hrtb!` wrapper saw it (a proc macro
//! cannot know it). The right-hand side is parsed as any type; [`validate`](crate::validate)
//! says whether it is a function pointer type it can handle. A `where` clause is accepted
//! before the `=` (closure-ffi 5.x's position) or after the type.

use proc_macro2::TokenTree;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Generics, Ident, Token, Type, Visibility, WhereClause};

/// Everything between the braces of the internal invocation.
pub struct Input {
    /// The `$crate` token forwarded by the wrapper.
    pub krate: TokenTree,
    /// The type aliases, in order (at least one).
    pub aliases: Vec<Alias>,
}

/// One `type Name<..> = ..;` item.
pub struct Alias {
    /// Outer attributes, doc comments included; they go on the generated newtype.
    pub attrs: Vec<Attribute>,
    /// Visibility of the newtype and of its calling-convention marker.
    pub vis: Visibility,
    /// The alias name, which becomes the newtype's name.
    pub ident: Ident,
    /// Generic parameters, with the `where` clause wherever it was written.
    pub generics: Generics,
    /// The right-hand side.
    pub ty: Type,
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let krate: TokenTree = input.parse()?;
        input.parse::<Token![;]>()?;
        if input.is_empty() {
            return Err(input.error(
                "bare_hrtb! expects a type alias, like \
                 `type Name = for<'a> extern \"C\" fn(&'a T) -> &'a U;`",
            ));
        }
        let mut aliases = Vec::new();
        while !input.is_empty() {
            aliases.push(input.parse()?);
        }
        Ok(Self { krate, aliases })
    }
}

impl Parse for Alias {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis: Visibility = input.parse()?;
        input.parse::<Token![type]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "bare_hrtb! expects a type alias: `type Name = for<'a> extern \"C\" fn(..) -> ..;`",
            )
        })?;
        let ident: Ident = input.parse()?;
        let mut generics: Generics = input.parse()?;
        let before: Option<WhereClause> = input.parse()?;
        input.parse::<Token![=]>()?;
        let ty: Type = input.parse()?;
        let after: Option<WhereClause> = input.parse()?;
        input.parse::<Token![;]>()?;
        generics.where_clause = match (before, after) {
            (Some(_), Some(after)) => {
                return Err(syn::Error::new_spanned(
                    after.where_token,
                    "a `where` clause was already given before the `=`; write one clause",
                ))
            }
            (before, after) => before.or(after),
        };
        Ok(Self {
            attrs,
            vis,
            ident,
            generics,
            ty,
        })
    }
}
