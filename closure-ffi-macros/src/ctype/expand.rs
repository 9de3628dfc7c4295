//! Expansion: the `CType` impl of a checked struct or union.
//!
//! For `#[repr(C, align(A))] struct S<T> { a: T, b: [u16; 3] }`:
//!
//! ```text
//! const _: () = assert!(A <= MAX_ALIGN, ..);            // only with align(A)
//! #[automatically_derived]
//! unsafe impl<T> CType for S<T>
//! where                                                 // with type parameters only:
//!     T: 'static,                                       // each type parameter
//!     T: CType,                                         // each field (array element) type
//!                                                       //   that mentions one
//!     S<T>: Copy,                                       // the type itself
//! {
//!     fn ffi_type() -> Type {
//!         const { assert!(size_of::<T>() != 0, ..) };   // for each field
//!         const { assert!(size_of::<[u16; 3]>() != 0, ..) };
//!         let __ty = Type::structure([                  // Type::union for a union
//!             <T as CType>::ffi_type(),
//!             Type::array(<u16 as CType>::ffi_type(), 3).expect(..),
//!         ])
//!         .expect(..)
//!         .aligned(A).expect(..);                        // only with align(A)
//!         debug_assert_eq!(__ty.size(), size_of::<Self>(), ..);
//!         debug_assert_eq!(__ty.align(), align_of::<Self>(), ..);
//!         debug_assert_eq!(__ty.offsets(), &[offset_of!(Self, a), offset_of!(Self, b)][..], ..);
//!         __ty
//!     }
//! }
//! ```
//!
//! The impl is sound because `#[repr(C)]` lays the fields out by the C rules that
//! `Type::structure` and `Type::union` follow, and each field's C type comes from that
//! field type's own `CType` impl (an unsafe contract); the debug assertions check the
//! result against rustc's layout.
//!
//! Building the `Type` cannot fail for fields whose `CType` impls are correct, except for
//! limits no C compiler reaches either (aggregates nested deeper than `MAX_DEPTH`, a size
//! above `MAX_SIZE`). The generated `ffi_type()` then panics (`expect`), naming the type
//! and the `TypeError`: it returns a `Type`, and any stand-in (such as `Type::VOID`) would
//! describe a different layout than `Self`'s, which callers rely on for memory safety.
//!
//! Generated code names only `::core` items and the public `::closure_ffi::dynamic` API.
//! It binds one local, `__ty`, with mixed-site hygiene and a name no constant of the user's
//! is likely to have (a constant in scope would turn a binding into a constant pattern,
//! which hygiene does not prevent); errors are handled with `expect`, binding nothing.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{parse_quote, parse_quote_spanned, GenericParam, Ident, Type, WhereClause};

use super::validate::{Checked, FieldType, Kind};

/// The `CType` impl, with its alignment assertion.
pub fn expand(checked: &Checked) -> TokenStream {
    let ident = &checked.ident;
    let (impl_generics, ty_generics, _) = checked.generics.split_for_impl();
    let where_clause = where_clause(checked);
    let ty = Ident::new("__ty", Span::mixed_site());
    let failed = format!(
        "#[derive(CType)]: `{ident}` cannot be described as a C type (is the `CType` impl of \
         one of its field types wrong?)"
    );

    let non_zero_sized = checked.fields.iter().map(|field| {
        let field_ty = &field.ty;
        let message = format!(
            "#[derive(CType)]: field `{}` of `{ident}` is zero-sized, and C has no zero-sized \
             members",
            field.member.to_token_stream()
        );
        quote_spanned! {field_ty.span()=>
            const { ::core::assert!(::core::mem::size_of::<#field_ty>() != 0, #message) };
        }
    });
    let members = checked
        .fields
        .iter()
        .map(|field| member(&field.layout, &failed));
    let aggregate = match checked.kind {
        Kind::Struct => quote!(::closure_ffi::dynamic::Type::structure([#(#members),*])),
        Kind::Union => quote!(::closure_ffi::dynamic::Type::union([#(#members),*])),
    };
    let (aligned, align_assertion) = match &checked.align {
        Some(align) => {
            let message = format!(
                "#[derive(CType)]: `{ident}` asks for an alignment above the largest a \
                 `closure_ffi::dynamic::Type` supports (`MAX_ALIGN`)"
            );
            (
                quote!(.aligned(#align).expect(#failed)),
                quote! {
                    const _: () = ::core::assert!(
                        #align <= ::closure_ffi::dynamic::types::MAX_ALIGN,
                        #message,
                    );
                },
            )
        }
        None => (TokenStream::new(), TokenStream::new()),
    };

    let mismatch = |what: &str| {
        format!(
            "#[derive(CType)]: the C type built for `{ident}` has another {what} than the Rust \
             type; the `CType` impl of one of its field types is wrong"
        )
    };
    let (size_message, align_message, offsets_message) = (
        mismatch("size"),
        mismatch("alignment"),
        mismatch("field offsets"),
    );
    let field_members = checked.fields.iter().map(|field| &field.member);
    // Non-generic types build their Type once and hand out clones (an Arc increment); a
    // static in a generic function would be shared by every instantiation, so generic
    // types build theirs on each call.
    let cell = Ident::new("__CELL", Span::mixed_site());
    let build = quote! {
        let #ty = #aggregate.expect(#failed) #aligned;
        ::core::debug_assert_eq!(
            #ty.size(),
            ::core::mem::size_of::<Self>(),
            #size_message,
        );
        ::core::debug_assert_eq!(
            #ty.align(),
            ::core::mem::align_of::<Self>(),
            #align_message,
        );
        ::core::debug_assert_eq!(
            #ty.offsets(),
            &[#(::core::mem::offset_of!(Self, #field_members)),*][..],
            #offsets_message,
        );
        #ty
    };
    let body = if checked.generics.params.is_empty() {
        quote! {
            static #cell: ::closure_ffi::__private::TypeCell =
                ::closure_ffi::__private::TypeCell::new();
            #cell.get_or_init(|| { #build })
        }
    } else {
        build
    };

    quote! {
        #align_assertion

        #[automatically_derived]
        unsafe impl #impl_generics ::closure_ffi::dynamic::CType for #ident #ty_generics
            #where_clause
        {
            fn ffi_type() -> ::closure_ffi::dynamic::Type {
                #(#non_zero_sized)*
                #body
            }
        }
    }
}

/// The expression of a field's C type.
fn member(layout: &FieldType, failed: &str) -> TokenStream {
    match layout {
        FieldType::Leaf(ty) => quote_spanned! {ty.span()=>
            <#ty as ::closure_ffi::dynamic::CType>::ffi_type()
        },
        FieldType::Array { element, len } => {
            let element = member(element, failed);
            quote!(::closure_ffi::dynamic::Type::array(#element, #len).expect(#failed))
        }
    }
}

/// The user's `where` clause, and for a type with type parameters: each parameter
/// `'static`, each field (array element) type that mentions a parameter `CType`, and the
/// type `Copy` (the supertraits of `CType`, which a derived `Copy` may not imply: it bounds
/// the parameters, not the field types).
fn where_clause(checked: &Checked) -> Option<WhereClause> {
    let params: Vec<&Ident> = checked
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(&t.ident),
            _ => None,
        })
        .collect();
    if params.is_empty() {
        return checked.generics.where_clause.clone();
    }
    let mut clause = checked
        .generics
        .where_clause
        .clone()
        .unwrap_or_else(|| parse_quote!(where));
    for param in &params {
        clause.predicates.push(parse_quote!(#param: 'static));
    }
    let mut seen = BTreeSet::new();
    for field in &checked.fields {
        let leaf = field.layout.leaf();
        if mentions(leaf, &params) && seen.insert(leaf.to_token_stream().to_string()) {
            clause.predicates.push(parse_quote_spanned! {leaf.span()=>
                #leaf: ::closure_ffi::dynamic::CType
            });
        }
    }
    let ident = &checked.ident;
    let (_, ty_generics, _) = checked.generics.split_for_impl();
    clause
        .predicates
        .push(parse_quote!(#ident #ty_generics: ::core::marker::Copy));
    Some(clause)
}

/// Whether `ty` names one of `params`.
fn mentions(ty: &Type, params: &[&Ident]) -> bool {
    struct Finder<'a> {
        params: &'a [&'a Ident],
        found: bool,
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_ident(&mut self, ident: &'ast Ident) {
            self.found |= self.params.contains(&ident);
        }
    }
    let mut finder = Finder {
        params,
        found: false,
    };
    finder.visit_type(ty);
    finder.found
}
