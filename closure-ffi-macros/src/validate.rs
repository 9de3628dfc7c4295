//! Validation: from the syntactic model to a checked one, or errors that point at the
//! offending tokens and say what to write instead.
//!
//! Checked here: the right-hand side is a function pointer type; it is neither variadic
//! nor diverging (`-> !`); its ABI is one closure-ffi has a calling-convention marker for
//! (or `"Rust"`); its `for<..>` binder declares only plain, distinct lifetimes that do not
//! shadow the alias's; and, through [`lifetimes`](crate::lifetimes), every lifetime of the
//! signature is named, declared and used, and no argument or return type is `impl Trait`,
//! `_` or a macro.

use proc_macro2::TokenTree;
use syn::{
    Abi, Attribute, GenericParam, Generics, Ident, Lifetime, LitStr, ReturnType, Token, Type,
    TypeBareFn, Visibility,
};

use crate::errors::Errors;
use crate::lifetimes::{self, LifetimePlan, Scope};
use crate::parse::{Alias, Input};

/// The ABI strings accepted: those of the markers in closure-ffi's `cc` module. Each
/// target supports a subset; rustc rejects the others where the pointer type is written.
pub const ABIS: &[&str] = &[
    "Rust",
    "C",
    "C-unwind",
    "system",
    "system-unwind",
    "efiapi",
    "sysv64",
    "sysv64-unwind",
    "win64",
    "win64-unwind",
    "cdecl",
    "cdecl-unwind",
    "stdcall",
    "stdcall-unwind",
    "fastcall",
    "fastcall-unwind",
    "thiscall",
    "thiscall-unwind",
    "aapcs",
    "aapcs-unwind",
];

/// A checked invocation: the aliases that passed, and the errors of those that did not
/// (the valid ones are still expanded, so that their uses do not add errors).
pub struct Checked {
    /// The `$crate` token.
    pub krate: TokenTree,
    /// The checked signatures, in order.
    pub items: Vec<Hrtb>,
    /// Every error found, combined.
    pub errors: Option<syn::Error>,
}

/// One checked higher-ranked signature.
pub struct Hrtb {
    /// The user's attributes, for the newtype.
    pub attrs: Vec<Attribute>,
    /// The visibility of the newtype and its marker.
    pub vis: Visibility,
    /// The newtype's name.
    pub ident: Ident,
    /// The alias's generics, `where` clause included.
    pub generics: Generics,
    /// The pointer type stored in the newtype: the signature made `unsafe`, with its ABI
    /// written out.
    pub fn_ty: TypeBareFn,
    /// The ABI string.
    pub abi: LitStr,
    /// The `for<..>` lifetimes, in declaration order.
    pub bound: Vec<Lifetime>,
    /// The argument types.
    pub inputs: Vec<Type>,
    /// The return type (`None` for `()`).
    pub output: Option<Type>,
    /// How the `FnPtr` view represents the bound lifetimes.
    pub plan: LifetimePlan,
}

impl Hrtb {
    /// The alias's type and const parameters, in order (the generic arguments that are not
    /// lifetimes).
    pub fn type_and_const_params(&self) -> impl Iterator<Item = &Ident> {
        self.generics.params.iter().filter_map(|p| match p {
            GenericParam::Type(t) => Some(&t.ident),
            GenericParam::Const(c) => Some(&c.ident),
            GenericParam::Lifetime(_) => None,
        })
    }
}

/// Checks every alias of the invocation.
pub fn validate(input: Input) -> Checked {
    let mut errors = Errors::default();
    let mut items = Vec::new();
    for alias in input.aliases {
        match alias_signature(alias) {
            Ok(item) => items.push(item),
            Err(error) => errors.push(error),
        }
    }
    Checked {
        krate: input.krate,
        items,
        errors: errors.0,
    }
}

/// `(fn(..))` and invisible groups (a type passed through `$t:ty`) are the type inside.
fn peel(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => peel(&g.elem),
        Type::Paren(p) => peel(&p.elem),
        other => other,
    }
}

fn alias_signature(alias: Alias) -> syn::Result<Hrtb> {
    let Type::BareFn(fn_ty) = peel(&alias.ty) else {
        return Err(syn::Error::new_spanned(
            &alias.ty,
            "bare_hrtb! expects a function pointer type on the right-hand side, like \
             `for<'a> extern \"C\" fn(&'a T) -> &'a U`",
        ));
    };
    let mut fn_ty = fn_ty.clone();
    let mut errors = Errors::default();

    if let Some(variadic) = &fn_ty.variadic {
        errors.spanned(
            variadic,
            "variadic signatures (`...`) are not supported by bare_hrtb!; for a C-variadic \
             signature without bound lifetimes, use `BareFn` with `cc::Variadic` (feature \
             `c_variadic`, nightly)",
        );
    }

    let abi = abi(&fn_ty, &mut errors);

    if let ReturnType::Type(_, ty) = &fn_ty.output {
        if let Type::Never(never) = peel(ty) {
            errors.spanned(
                never,
                "a diverging signature (`-> !`) is not supported by bare_hrtb!: `FnPtr::Ret` \
                 cannot be `!` on stable Rust; return `()` or an uninhabited enum instead",
            );
        }
    }

    let alias_lifetimes: Vec<Lifetime> = alias
        .generics
        .lifetimes()
        .map(|p| p.lifetime.clone())
        .collect();
    let alias_types: Vec<Ident> = alias
        .generics
        .type_params()
        .map(|p| p.ident.clone())
        .collect();
    let bound = bound_lifetimes(&fn_ty, &alias_lifetimes, &mut errors);

    let inputs: Vec<Type> = fn_ty.inputs.iter().map(|arg| arg.ty.clone()).collect();
    let output = match &fn_ty.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some((**ty).clone()),
    };
    let scope = Scope {
        bound: &bound,
        alias_lifetimes: &alias_lifetimes,
        alias_types: &alias_types,
    };
    let plan = match lifetimes::analyze(&scope, &inputs.iter().collect::<Vec<_>>(), output.as_ref())
    {
        Ok(plan) => Some(plan),
        Err(error) => {
            errors.push(error);
            None
        }
    };
    let (Some(abi), Some(plan)) = (abi, plan) else {
        // Both helpers record an error whenever they return `None`.
        return Err(errors.0.unwrap_or_else(|| {
            syn::Error::new_spanned(&fn_ty, "bare_hrtb!: cannot analyse this signature")
        }));
    };

    fn_ty.unsafety = Some(Token![unsafe](fn_ty.fn_token.span));
    fn_ty.abi = Some(Abi {
        extern_token: fn_ty
            .abi
            .as_ref()
            .map_or(Token![extern](fn_ty.fn_token.span), |a| a.extern_token),
        name: Some(abi.clone()),
    });
    errors.finish(Hrtb {
        attrs: alias.attrs,
        vis: alias.vis,
        ident: alias.ident,
        generics: alias.generics,
        fn_ty,
        abi,
        bound,
        inputs,
        output,
        plan,
    })
}

/// The ABI string: `"Rust"` without `extern`, `"C"` for a bare `extern`.
fn abi(fn_ty: &TypeBareFn, errors: &mut Errors) -> Option<LitStr> {
    let Some(abi) = &fn_ty.abi else {
        return Some(LitStr::new("Rust", fn_ty.fn_token.span));
    };
    let Some(name) = &abi.name else {
        return Some(LitStr::new("C", abi.extern_token.span));
    };
    let value = name.value();
    if ABIS.contains(&value.as_str()) {
        return Some(name.clone());
    }
    let listed = ABIS
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let hint = ABIS
        .iter()
        .find(|a| a.eq_ignore_ascii_case(&value))
        .map(|a| format!(" (did you mean \"{a}\"?)"))
        .unwrap_or_default();
    errors.spanned(
        name,
        format_args!(
            "unsupported ABI \"{value}\"{hint}: bare_hrtb! accepts the ABIs closure-ffi has \
             calling-convention markers for: {listed}"
        ),
    );
    None
}

/// The `for<..>` lifetimes, checked to be plain, distinct and not shadowing the alias's.
fn bound_lifetimes(fn_ty: &TypeBareFn, alias: &[Lifetime], errors: &mut Errors) -> Vec<Lifetime> {
    let mut bound: Vec<Lifetime> = Vec::new();
    let Some(binder) = &fn_ty.lifetimes else {
        return bound;
    };
    for param in &binder.lifetimes {
        let param = match param {
            GenericParam::Lifetime(param) => param,
            other => {
                errors.spanned(
                    other,
                    "only lifetimes can be bound by `for<..>` in a function pointer type",
                );
                continue;
            }
        };
        let lt = &param.lifetime;
        if !param.bounds.is_empty() {
            errors.spanned(
                &param.bounds,
                "bounds on `for<..>` lifetimes are not allowed in a function pointer type; \
                 the bounds the argument types imply hold anyway",
            );
        }
        if lt.ident == "static" || lt.ident == "_" {
            errors.spanned(lt, format_args!("`{lt}` cannot be declared in `for<..>`"));
        } else if alias.iter().any(|a| a.ident == lt.ident) {
            errors.spanned(
                lt,
                format_args!(
                    "`{lt}` is declared both as a parameter of the alias and in `for<..>`; \
                     rename one"
                ),
            );
        } else if bound.iter().any(|b| b.ident == lt.ident) {
            errors.spanned(lt, format_args!("`{lt}` is declared twice in `for<..>`"));
        } else {
            bound.push(lt.clone());
        }
    }
    bound
}
