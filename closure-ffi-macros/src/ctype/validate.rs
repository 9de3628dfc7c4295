//! Validation: what a C type description can say about the item, or errors that point at
//! the offending tokens and say what to write instead.
//!
//! Checked here: the item is a struct or a union (not an enum); it is `#[repr(C)]` and not
//! `packed`; it has at least one field; it has no lifetime parameters (a `CType` is
//! `'static`); no field is `()` or a zero-length array (C has no zero-sized members).
//! Field types that are arrays, `[T; N]` (nested too), are recognised here, since an array
//! is not a `CType` by itself. The remaining zero-sized fields (a type alias of `()`,
//! `[T; N]` with a `const` `N` of 0) are refused by `const` assertions in the expansion;
//! that every field type is a `CType` is rustc's to check.

use syn::{Data, Expr, ExprLit, Fields, GenericParam, Generics, Ident, Lit, LitInt, Member, Type};

use super::parse::{Input, Repr};
use crate::errors::Errors;

/// A checked derive input.
pub struct Checked {
    /// The type's name.
    pub ident: Ident,
    /// Its generics (type and const parameters only) and `where` clause.
    pub generics: Generics,
    /// Struct or union.
    pub kind: Kind,
    /// The fields, in declaration order (at least one).
    pub fields: Vec<Field>,
    /// The `align(N)` of `#[repr(C, align(N))]`, the largest if several are given.
    pub align: Option<LitInt>,
}

/// Which aggregate the item is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A struct: members at increasing offsets (`Type::structure`).
    Struct,
    /// A union: every member at offset 0 (`Type::union`).
    Union,
}

/// One field.
pub struct Field {
    /// Its name, or its index in a tuple struct.
    pub member: Member,
    /// Its type as written.
    pub ty: Type,
    /// How its C type is built.
    pub layout: FieldType,
}

/// How the C type of a field is built.
pub enum FieldType {
    /// `<T as CType>::ffi_type()`.
    Leaf(Type),
    /// `Type::array(element, len)` for a field type `[element; len]`.
    Array {
        /// The element type.
        element: Box<FieldType>,
        /// The length expression, a constant.
        len: Expr,
    },
}

impl FieldType {
    /// The type whose `CType` impl the field's C type uses (for an array, the innermost
    /// element type).
    pub fn leaf(&self) -> &Type {
        match self {
            FieldType::Leaf(ty) => ty,
            FieldType::Array { element, .. } => element.leaf(),
        }
    }
}

/// Checks the derive input.
pub fn validate(input: Input) -> syn::Result<Checked> {
    let mut errors = Errors::default();

    let (kind, fields) = match input.data {
        Data::Enum(data) => {
            return Err(syn::Error::new_spanned(
                data.enum_token,
                "#[derive(CType)] cannot describe an enum: C code may hand back any integer, \
                 and a Rust enum holding a value that is not one of its discriminants is \
                 undefined behaviour; use the integer type (a C `enum` is an `int`) and \
                 convert it",
            ));
        }
        Data::Struct(data) => (Kind::Struct, data.fields),
        Data::Union(data) => (Kind::Union, Fields::Named(data.fields)),
    };
    let what = match kind {
        Kind::Struct => "struct",
        Kind::Union => "union",
    };

    let align = repr(&input.ident, &input.repr, what, &mut errors);

    for param in &input.generics.params {
        if let GenericParam::Lifetime(lt) = param {
            errors.spanned(
                lt,
                "#[derive(CType)] does not support lifetime parameters: a `CType` is \
                 `'static`",
            );
        }
    }

    if fields.is_empty() {
        errors.spanned(
            &input.ident,
            format_args!(
                "`{}` has no fields: C has no empty {what}s (libffi refuses them), so \
                 #[derive(CType)] cannot describe it",
                input.ident
            ),
        );
    }
    let fields = fields
        .into_iter()
        .enumerate()
        .map(|(index, field)| {
            let layout = field_type(&field.ty, &mut errors);
            Field {
                member: match field.ident {
                    Some(ident) => Member::Named(ident),
                    None => Member::Unnamed(index.into()),
                },
                ty: field.ty,
                layout,
            }
        })
        .collect();

    errors.finish(Checked {
        ident: input.ident,
        generics: input.generics,
        kind,
        fields,
        align,
    })
}

/// Checks the `#[repr(..)]` items: `C` is required, `packed` refused; returns the largest
/// `align(N)`.
fn repr(ident: &Ident, items: &[Repr], what: &str, errors: &mut Errors) -> Option<LitInt> {
    let mut c = false;
    let mut align: Option<(u64, LitInt)> = None;
    for item in items {
        match item {
            Repr::C(_) => c = true,
            Repr::Align { align: lit, .. } => match lit.base10_parse::<u64>() {
                Ok(value) if align.as_ref().is_none_or(|(max, _)| value > *max) => {
                    align = Some((value, lit.clone()));
                }
                Ok(_) => {}
                // rustc reports a malformed alignment.
                Err(error) => errors.push(error),
            },
            Repr::Packed(path) => errors.spanned(
                path,
                "#[derive(CType)] cannot describe a packed layout: C types are laid out with \
                 natural alignment (and libffi has no packed types); remove `packed`",
            ),
            Repr::Other(path) if path.is_ident("transparent") => errors.spanned(
                path,
                format_args!(
                    "#[derive(CType)] describes `#[repr(C)]` {what}s; a `#[repr(transparent)]` \
                     wrapper has the C type of its field: implement `CType` by hand, \
                     returning that field's `ffi_type()`"
                ),
            ),
            Repr::Other(_) => {}
        }
    }
    if !c && !items.iter().any(|i| i.path().is_ident("transparent")) {
        let message = format!(
            "#[derive(CType)] needs `#[repr(C)]` on `{ident}`: without it, Rust may reorder \
             and pad the fields as it likes, so no C type describes the {what}"
        );
        match items.first() {
            Some(item) => errors.spanned(item.path(), message),
            None => errors.spanned(ident, message),
        }
    }
    align.map(|(_, lit)| lit)
}

/// `(T)` and invisible groups (a type passed through `$t:ty`) are the type inside.
fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => peel(&g.elem),
        Type::Paren(p) => peel(&p.elem),
        other => other,
    }
}

/// The C type of a field of type `ty`; `()` and zero-length array literals are errors.
fn field_type(ty: &Type, errors: &mut Errors) -> FieldType {
    match peel(ty) {
        Type::Array(array) => {
            if let Expr::Lit(ExprLit {
                lit: Lit::Int(len), ..
            }) = &array.len
            {
                if len.base10_parse::<u64>().is_ok_and(|n| n == 0) {
                    errors.spanned(
                        ty,
                        "a zero-length array is zero-sized, and C has no zero-sized members \
                         (nor zero-length arrays); #[derive(CType)] cannot describe it",
                    );
                }
            }
            FieldType::Array {
                element: Box::new(field_type(&array.elem, errors)),
                len: array.len.clone(),
            }
        }
        Type::Tuple(tuple) if tuple.elems.is_empty() => {
            errors.spanned(
                ty,
                "a `()` field is zero-sized, and C has no zero-sized members; \
                 #[derive(CType)] cannot describe it (`()` is `void` only as a return type)",
            );
            FieldType::Leaf(ty.clone())
        }
        _ => FieldType::Leaf(ty.clone()),
    }
}
