//! The lifetime analysis of a signature: which lifetimes it uses and where, the misuses
//! (elided or undeclared lifetimes, unused bound lifetimes), and the *plan* of its
//! `FnPtr` view.
//!
//! # Why a plan
//! `FnPtr::Args<'a, 'b, 'c>` and `FnPtr::Ret<'a, 'b, 'c>` are generic associated types
//! without `where` clauses, and an impl cannot add any. Inside them a type is checked for
//! well-formedness with no implied bounds, so two things a function pointer type gets for
//! free cannot be written there:
//! - an outlives relation between two of its lifetimes (`&'a &'b u8` needs `'b: 'a`,
//!   `&'a mut Formatter<'b>` too);
//! - a generic parameter under a bound lifetime (`&'a Option<T>` needs `T: 'a` for every
//!   `'a`, that is `T: 'static`).
//!
//! And there are only three GAT lifetimes. So the view is an *instance* of the
//! higher-ranked signature:
//! - every bound lifetime that must outlive another lifetime of the signature is *pinned*
//!   to `'static`;
//! - of the others, the first three (in declaration order) become the GAT parameters, and
//!   the rest are pinned too;
//! - the `FnPtr` and `Fn*Thunk` impls require `'static` of each generic parameter of the
//!   alias that appears under a bound lifetime.
//!
//! An instance is sound for `FnPtr::call` and `Fn*Thunk::call*`: they pass arguments the
//! higher-ranked function accepts. What it cannot do is the converse: a closure over the
//! instance's packed arguments does not implement the higher-ranked signature, so with
//! pinned lifetimes `FnPtr::make_*_thunk` is a compile error (see `expand`). Thunk
//! templates are not affected: they are generic functions with the full signature.
//!
//! # What counts as "under" a lifetime
//! A type inside `&'x T` / `&'x mut T` (a trait object inside it included: rustc requires
//! `T: 'x` of `&'x dyn Trait<T>`), or a type argument of a path segment that also has the
//! lifetime argument `'x` (`Cow<'x, T>`, conservatively: such a type usually requires
//! `T: 'x`). Lifetimes bound by nested binders (`fn(&u8)`, `dyn Fn(&u8)`, `for<'x> ..`)
//! carry their own implied bounds, so they are ignored.

use std::collections::BTreeSet;

use quote::ToTokens;
use syn::punctuated::Punctuated;
use syn::{
    BoundLifetimes, GenericArgument, GenericParam, Ident, Lifetime, Path, PathArguments, QSelf,
    ReturnType, Token, Type, TypeParamBound,
};

/// How many bound lifetimes `FnPtr`'s GATs can name.
pub const GAT_LIFETIMES: usize = 3;

/// The names in scope of a signature.
pub struct Scope<'s> {
    /// The `for<..>` lifetimes, in declaration order.
    pub bound: &'s [Lifetime],
    /// The alias's lifetime parameters.
    pub alias_lifetimes: &'s [Lifetime],
    /// The alias's type parameters.
    pub alias_types: &'s [Ident],
}

/// How the `FnPtr` view represents a higher-ranked signature (see the module docs).
#[derive(Debug)]
pub struct LifetimePlan {
    /// Bound lifetimes named by the GAT parameters, in order (at most three).
    pub gat: Vec<Lifetime>,
    /// Bound lifetimes instantiated as `'static` in the view.
    pub pinned: Vec<Lifetime>,
    /// Type parameters of the alias the view needs to be `'static`.
    pub static_types: Vec<Ident>,
    /// Lifetime parameters of the alias the view needs to be `'static`.
    pub static_lifetimes: Vec<Lifetime>,
}

/// Analyzes the argument and return types of a signature.
pub fn analyze(
    scope: &Scope,
    inputs: &[&Type],
    output: Option<&Type>,
) -> syn::Result<LifetimePlan> {
    let mut walker = Walker::new(scope);
    for input in inputs {
        walker.ty(input);
    }
    if let Some(output) = output {
        walker.in_output = true;
        walker.ty(output);
    }
    walker.finish()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Static,
    Elided,
    Bound,
    Alias,
    Nested,
    Undeclared,
}

struct Walker<'s, 'a> {
    scope: &'s Scope<'a>,
    errors: Vec<syn::Error>,
    /// Lifetimes declared by the nested binders around the current position.
    nested: Vec<String>,
    /// Nested binders around the current position in which an elided lifetime is fresh
    /// (function pointer types and `Fn(..)` sugar).
    elision_binders: usize,
    /// Lifetimes (not nested ones) of the references and paths around the current position.
    containers: Vec<String>,
    in_output: bool,
    used_in_inputs: BTreeSet<String>,
    used_in_output: BTreeSet<String>,
    must_pin: BTreeSet<String>,
    static_types: BTreeSet<String>,
    static_lifetimes: BTreeSet<String>,
    undeclared: BTreeSet<String>,
}

impl<'s, 'a> Walker<'s, 'a> {
    fn new(scope: &'s Scope<'a>) -> Self {
        Self {
            scope,
            errors: Vec::new(),
            nested: Vec::new(),
            elision_binders: 0,
            containers: Vec::new(),
            in_output: false,
            used_in_inputs: BTreeSet::new(),
            used_in_output: BTreeSet::new(),
            must_pin: BTreeSet::new(),
            static_types: BTreeSet::new(),
            static_lifetimes: BTreeSet::new(),
            undeclared: BTreeSet::new(),
        }
    }

    fn error(&mut self, tokens: impl ToTokens, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new_spanned(tokens, message));
    }

    fn kind(&self, name: &str) -> Kind {
        let is = |lts: &[Lifetime]| lts.iter().any(|lt| lt.ident == name);
        if name == "static" {
            Kind::Static
        } else if name == "_" {
            Kind::Elided
        } else if self.nested.iter().any(|n| n == name) {
            Kind::Nested
        } else if is(self.scope.bound) {
            Kind::Bound
        } else if is(self.scope.alias_lifetimes) {
            Kind::Alias
        } else {
            Kind::Undeclared
        }
    }

    /// A lifetime written at the current position.
    fn occurrence(&mut self, lt: &Lifetime) {
        let name = lt.ident.to_string();
        match self.kind(&name) {
            Kind::Elided => {
                if self.elision_binders == 0 {
                    self.error(
                        lt,
                        "`'_` is not allowed in a bare_hrtb! signature: name the lifetime and \
                         declare it in `for<..>` (or as a parameter of the alias)",
                    );
                }
            }
            Kind::Nested | Kind::Static => {}
            Kind::Undeclared => {
                if self.undeclared.insert(name) {
                    self.error(
                        lt,
                        format_args!(
                            "use of undeclared lifetime `{lt}`: declare it in `for<{lt}, ..>` \
                             or as a parameter of the alias"
                        ),
                    );
                }
            }
            Kind::Bound => {
                if self.in_output {
                    self.used_in_output.insert(name.clone());
                } else {
                    self.used_in_inputs.insert(name.clone());
                }
                if self.containers.iter().any(|c| *c != name) {
                    self.must_pin.insert(name);
                }
            }
            Kind::Alias => {
                let under_bound = self
                    .containers
                    .iter()
                    .any(|c| *c != name && self.kind(c) == Kind::Bound);
                if under_bound {
                    self.static_lifetimes.insert(name);
                }
            }
        }
    }

    /// Makes `lt` a container of what follows; returns whether it was pushed.
    fn push_container(&mut self, lt: &Lifetime) -> bool {
        let name = lt.ident.to_string();
        match self.kind(&name) {
            Kind::Static | Kind::Bound | Kind::Alias => {
                self.containers.push(name);
                true
            }
            Kind::Elided | Kind::Nested | Kind::Undeclared => false,
        }
    }

    fn type_param(&mut self, ident: &Ident) {
        if self.containers.iter().any(|c| self.kind(c) == Kind::Bound) {
            self.static_types.insert(ident.to_string());
        }
    }

    /// Walks what a nested binder covers.
    fn binder(
        &mut self,
        lifetimes: Option<&BoundLifetimes>,
        elision: bool,
        f: impl FnOnce(&mut Self),
    ) {
        let depth = self.nested.len();
        for param in lifetimes.iter().flat_map(|b| b.lifetimes.iter()) {
            if let GenericParam::Lifetime(param) = param {
                let name = param.lifetime.ident.to_string();
                if matches!(self.kind(&name), Kind::Bound | Kind::Alias) {
                    self.error(
                        &param.lifetime,
                        format_args!(
                            "lifetime `{}` shadows a lifetime of the bare_hrtb! signature; rename it",
                            param.lifetime
                        ),
                    );
                }
                self.nested.push(name);
            }
        }
        self.elision_binders += usize::from(elision);
        f(self);
        self.elision_binders -= usize::from(elision);
        self.nested.truncate(depth);
    }

    fn ty(&mut self, ty: &Type) {
        match ty {
            Type::Array(a) => self.ty(&a.elem),
            Type::BareFn(f) => self.binder(f.lifetimes.as_ref(), true, |w| {
                for arg in &f.inputs {
                    w.ty(&arg.ty);
                }
                w.return_type(&f.output);
            }),
            Type::Group(g) => self.ty(&g.elem),
            Type::Paren(p) => self.ty(&p.elem),
            Type::ImplTrait(i) => self.error(
                i,
                "`impl Trait` cannot appear in a function pointer type; make the type a generic \
                 parameter of the alias (`type Name<T: Trait> = ..`) or use `&'a dyn Trait`",
            ),
            Type::Infer(i) => self.error(
                i,
                "the placeholder `_` is not allowed in a bare_hrtb! signature; write the type",
            ),
            Type::Macro(m) => self.error(
                m,
                "type macros are not supported in a bare_hrtb! signature (the lifetimes they \
                 expand to cannot be seen); write the type out",
            ),
            Type::Never(_) => {}
            Type::Path(p) => self.path(p.qself.as_ref(), &p.path),
            Type::Ptr(p) => self.ty(&p.elem),
            Type::Reference(r) => match &r.lifetime {
                None => {
                    if self.elision_binders == 0 {
                        self.error(
                            r.and_token,
                            "this reference has an elided lifetime; bare_hrtb! needs every \
                             lifetime of the signature named: write `&'a ..` and declare `'a` \
                             in `for<'a, ..>` (or as a parameter of the alias)",
                        );
                    }
                    self.ty(&r.elem);
                }
                Some(lt) => {
                    self.occurrence(lt);
                    let pushed = self.push_container(lt);
                    self.ty(&r.elem);
                    if pushed {
                        self.containers.pop();
                    }
                }
            },
            Type::Slice(s) => self.ty(&s.elem),
            Type::TraitObject(o) => self.bounds(&o.bounds),
            Type::Tuple(t) => {
                for elem in &t.elems {
                    self.ty(elem);
                }
            }
            other => self.error(
                other,
                "this type syntax is not supported in a bare_hrtb! signature",
            ),
        }
    }

    fn return_type(&mut self, output: &ReturnType) {
        if let ReturnType::Type(_, ty) = output {
            self.ty(ty);
        }
    }

    /// Bounds of a trait object (or of an associated type constraint).
    fn bounds(&mut self, bounds: &Punctuated<TypeParamBound, Token![+]>) {
        for bound in bounds {
            match bound {
                TypeParamBound::Lifetime(lt) => self.occurrence(lt),
                TypeParamBound::Trait(t) => {
                    self.binder(t.lifetimes.as_ref(), false, |w| w.path(None, &t.path));
                }
                _ => {}
            }
        }
    }

    fn path(&mut self, qself: Option<&QSelf>, path: &Path) {
        if let Some(qself) = qself {
            self.ty(&qself.ty);
        } else if path.leading_colon.is_none() {
            // `T` or `T::Assoc`.
            if let Some(first) = path.segments.first() {
                if self.scope.alias_types.contains(&first.ident) {
                    self.type_param(&first.ident);
                }
            }
        }
        for segment in &path.segments {
            match &segment.arguments {
                PathArguments::None => {}
                PathArguments::AngleBracketed(args) => {
                    // The lifetime arguments of one segment do not contain each other.
                    let lifetimes = args.args.iter().filter_map(|arg| match arg {
                        GenericArgument::Lifetime(lt) => Some(lt),
                        _ => None,
                    });
                    for lt in lifetimes.clone() {
                        self.occurrence(lt);
                    }
                    let mut pushed = 0;
                    for lt in lifetimes {
                        pushed += usize::from(self.push_container(lt));
                    }
                    for arg in &args.args {
                        match arg {
                            GenericArgument::Type(ty) => self.ty(ty),
                            GenericArgument::AssocType(assoc) => self.ty(&assoc.ty),
                            GenericArgument::Constraint(c) => self.bounds(&c.bounds),
                            _ => {}
                        }
                    }
                    let len = self.containers.len();
                    self.containers.truncate(len - pushed);
                }
                PathArguments::Parenthesized(args) => self.binder(None, true, |w| {
                    for input in &args.inputs {
                        w.ty(input);
                    }
                    w.return_type(&args.output);
                }),
            }
        }
    }

    fn finish(mut self) -> syn::Result<LifetimePlan> {
        let mut gat = Vec::new();
        let mut pinned = Vec::new();
        for lt in self.scope.bound {
            let name = lt.ident.to_string();
            if !self.used_in_inputs.contains(&name) {
                let message = if self.used_in_output.contains(&name) {
                    format!(
                        "bound lifetime `{lt}` appears only in the return type: no argument \
                         constrains it, so a function pointer cannot return it (E0581); use it \
                         in an argument or write `'static`"
                    )
                } else {
                    format!(
                        "bound lifetime `{lt}` is never used in the signature; remove it from \
                         `for<..>`"
                    )
                };
                self.error(lt, message);
            } else if self.must_pin.contains(&name) || gat.len() == GAT_LIFETIMES {
                pinned.push(lt.clone());
            } else {
                gat.push(lt.clone());
            }
        }
        let mut errors = self.errors.into_iter();
        if let Some(mut first) = errors.next() {
            first.extend(errors);
            return Err(first);
        }
        let static_types = self
            .scope
            .alias_types
            .iter()
            .filter(|t| self.static_types.contains(&t.to_string()))
            .cloned()
            .collect();
        let static_lifetimes = self
            .scope
            .alias_lifetimes
            .iter()
            .filter(|lt| self.static_lifetimes.contains(&lt.ident.to_string()))
            .cloned()
            .collect();
        Ok(LifetimePlan {
            gat,
            pinned,
            static_types,
            static_lifetimes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::TypeBareFn;

    /// `(gat, pinned, static types, static lifetimes)` of a signature, or the first error.
    type Names = (Vec<String>, Vec<String>, Vec<String>, Vec<String>);

    /// `(alias lifetimes, alias types, signature, expected plan)`.
    type Row = (
        &'static [&'static str],
        &'static [&'static str],
        &'static str,
        Result<Names, String>,
    );

    fn plan(
        alias_lifetimes: &[&str],
        alias_types: &[&str],
        signature: &str,
    ) -> Result<Names, String> {
        let fn_ty: TypeBareFn = syn::parse_str(signature).expect("a function pointer type");
        let bound: Vec<Lifetime> = fn_ty
            .lifetimes
            .iter()
            .flat_map(|b| b.lifetimes.iter())
            .map(|p| match p {
                GenericParam::Lifetime(p) => p.lifetime.clone(),
                _ => panic!("lifetimes only"),
            })
            .collect();
        let alias_lifetimes: Vec<Lifetime> = alias_lifetimes
            .iter()
            .map(|l| Lifetime::new(l, proc_macro2::Span::call_site()))
            .collect();
        let alias_types: Vec<Ident> = alias_types
            .iter()
            .map(|t| Ident::new(t, proc_macro2::Span::call_site()))
            .collect();
        let scope = Scope {
            bound: &bound,
            alias_lifetimes: &alias_lifetimes,
            alias_types: &alias_types,
        };
        let inputs: Vec<&Type> = fn_ty.inputs.iter().map(|a| &a.ty).collect();
        let output = match &fn_ty.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some(&**ty),
        };
        let plan = analyze(&scope, &inputs, output).map_err(|e| e.to_string())?;
        let names = |lts: &[Lifetime]| lts.iter().map(|l| l.to_string()).collect();
        Ok((
            names(&plan.gat),
            names(&plan.pinned),
            plan.static_types.iter().map(|t| t.to_string()).collect(),
            names(&plan.static_lifetimes),
        ))
    }

    fn ok(
        gat: &[&str],
        pinned: &[&str],
        types: &[&str],
        lifetimes: &[&str],
    ) -> Result<Names, String> {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Ok((owned(gat), owned(pinned), owned(types), owned(lifetimes)))
    }

    #[test]
    fn plans() {
        let table: &[Row] = &[
            (
                &[],
                &[],
                "for<'a, 'b> fn(&'a CStr, &'b CStr) -> &'a CStr",
                ok(&["'a", "'b"], &[], &[], &[]),
            ),
            (&[], &[], "fn(u8) -> u8", ok(&[], &[], &[], &[])),
            (
                &[],
                &[],
                "for<'a, 'b> fn(Foo<'a, 'b>) -> Bar<'b>",
                ok(&["'a", "'b"], &[], &[], &[]),
            ),
            (
                &[],
                &[],
                "for<'a, 'b, 'c, 'd> fn(&'a u8, &'b u8, &'c u8, &'d u8)",
                ok(&["'a", "'b", "'c"], &["'d"], &[], &[]),
            ),
            (
                &[],
                &[],
                "for<'a, 'b> fn(&'a mut Formatter<'b>) -> Result",
                ok(&["'a"], &["'b"], &[], &[]),
            ),
            (
                &[],
                &[],
                "for<'a, 'b> fn(&'a &'b u8)",
                ok(&["'a"], &["'b"], &[], &[]),
            ),
            (
                &[],
                &[],
                "for<'a> fn(&'static &'a u8)",
                ok(&[], &["'a"], &[], &[]),
            ),
            (
                &[],
                &[],
                "for<'a, 'b, 'c, 'd, 'e> fn(&'a &'b u8, &'c u8, &'d u8, &'e u8)",
                ok(&["'a", "'c", "'d"], &["'b", "'e"], &[], &[]),
            ),
            (
                &[],
                &["T"],
                "for<'a> fn(&'a Option<T>) -> Option<&'a T>",
                ok(&["'a"], &[], &["T"], &[]),
            ),
            (
                &[],
                &["T"],
                "for<'a> fn(&'a u8, T) -> T",
                ok(&["'a"], &[], &[], &[]),
            ),
            (
                &[],
                &["T"],
                "for<'a> fn(Cow<'a, [T]>)",
                ok(&["'a"], &[], &["T"], &[]),
            ),
            (
                &[],
                &["T"],
                "for<'a> fn(&'a u8, *const T::Item)",
                ok(&["'a"], &[], &[], &[]),
            ),
            (
                &[],
                &["T"],
                "for<'a> fn(&'a T::Item)",
                ok(&["'a"], &[], &["T"], &[]),
            ),
            (
                &[],
                &["T"],
                "for<'a> fn(&'a dyn Trait<T>)",
                ok(&["'a"], &[], &["T"], &[]),
            ),
            (
                &[],
                &["T"],
                "for<'a> fn(&'a u8, Box<dyn Trait<T>>)",
                ok(&["'a"], &[], &[], &[]),
            ),
            (
                &[],
                &["T"],
                "for<'a> fn(&'a (dyn Trait<&'a T> + 'a))",
                ok(&["'a"], &[], &["T"], &[]),
            ),
            (
                &["'c"],
                &[],
                "for<'a> fn(&'c str, &'a u32) -> &'a u32",
                ok(&["'a"], &[], &[], &[]),
            ),
            (
                &["'c"],
                &[],
                "for<'a> fn(&'a &'c u8)",
                ok(&["'a"], &[], &[], &["'c"]),
            ),
            (
                &["'c"],
                &[],
                "for<'a> fn(&'c &'a u8)",
                ok(&[], &["'a"], &[], &[]),
            ),
            (
                &[],
                &[],
                "for<'a> fn(&'a u8, fn(&u8) -> &u8, &'a dyn Fn(&u8))",
                ok(&["'a"], &[], &[], &[]),
            ),
            (
                &[],
                &[],
                "for<'a> fn(&'a u8, for<'x> fn(&'x &'a u8))",
                ok(&["'a"], &[], &[], &[]),
            ),
        ];
        for (lifetimes, types, signature, expected) in table {
            assert_eq!(&plan(lifetimes, types, signature), expected, "{signature}");
        }
    }

    #[test]
    fn misuses() {
        let table: &[(&str, &str)] = &[
            ("for<'a> fn(&'a u8, &u8)", "elided lifetime"),
            ("for<'a> fn(&'a u8) -> &u8", "elided lifetime"),
            ("for<'a> fn(&'a u8, Foo<'_>)", "`'_` is not allowed"),
            ("for<'a, 'b> fn(&'a u8)", "`'b` is never used"),
            (
                "for<'a, 'r> fn(&'a u8) -> &'r u8",
                "`'r` appears only in the return type",
            ),
            ("for<'a> fn(&'a u8, &'x u8)", "undeclared lifetime `'x`"),
            (
                "for<'a> fn(&'a u8, impl Copy)",
                "`impl Trait` cannot appear",
            ),
            ("for<'a> fn(&'a u8, _)", "placeholder `_`"),
            ("for<'a> fn(&'a u8, m!())", "type macros are not supported"),
            ("for<'a> fn(&'a u8, for<'a> fn(&'a u8))", "shadows"),
        ];
        for (signature, message) in table {
            let error = plan(&[], &[], signature).expect_err(signature);
            assert!(error.contains(message), "{signature}: {error}");
        }
    }
}
