//! Expansion: the items of one checked signature.
//!
//! For `type Name<G> = for<'a, ..> extern "abi" fn(Args) -> Ret;`:
//! - `struct Name_CC;` (the calling-convention marker) and
//!   `#[repr(transparent)] struct Name<G>(pub for<'a, ..> unsafe extern "abi" fn(Args) -> Ret);`;
//! - `Name::cc()`, `Clone`, `Copy`, `Debug`, `From` both ways, `Deref<Target = fn ptr>`;
//! - `unsafe impl FnPtr for Name<G>` (its view of the bound lifetimes is the
//!   [`LifetimePlan`](crate::lifetimes::LifetimePlan));
//! - `unsafe impl Fn{Once,Mut,}Thunk<Name<G>> for (Name_CC, F)`, whose templates are those
//!   of closure-ffi's `src/cc/impls.rs` with the bound lifetimes made generic parameters of
//!   the template function.
//!
//! Generated code names only `::core` items, the public traits `$crate::traits::*`, and the
//! hidden `$crate::__private` items and `$crate::__closure_ffi_thunk_stub!`. Names it
//! introduces (generic parameters, lifetimes) are fresh: they differ from every identifier
//! of the signature. Local variables use mixed-site hygiene.

use std::collections::BTreeSet;

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{
    parse_quote, GenericParam, Generics, Ident, Index, Lifetime, LifetimeParam, Type,
    WherePredicate,
};

use crate::validate::{Checked, Hrtb};

/// Expands every signature of the invocation.
pub fn expand(checked: &Checked) -> TokenStream {
    checked
        .items
        .iter()
        .map(|item| Expansion::new(&checked.krate, item).items())
        .collect()
}

/// One of the three thunk traits, with what differs between them.
struct Family {
    thunk_trait: Ident,
    template_const: Ident,
    call: Ident,
    receiver: TokenStream,
    fn_trait: Ident,
    make: Ident,
    packed: Ident,
    fun_binding: TokenStream,
    once: bool,
}

fn families() -> [Family; 3] {
    let ident = |s: &str| Ident::new(s, Span::call_site());
    [
        Family {
            thunk_trait: ident("FnOnceThunk"),
            template_const: ident("THUNK_TEMPLATE_ONCE"),
            call: ident("call_once"),
            receiver: quote!(self),
            fn_trait: ident("FnOnce"),
            make: ident("make_once_thunk"),
            packed: ident("PackedFnOnce"),
            fun_binding: quote!(),
            once: true,
        },
        Family {
            thunk_trait: ident("FnMutThunk"),
            template_const: ident("THUNK_TEMPLATE_MUT"),
            call: ident("call_mut"),
            receiver: quote!(&mut self),
            fn_trait: ident("FnMut"),
            make: ident("make_mut_thunk"),
            packed: ident("PackedFnMut"),
            fun_binding: quote!(mut),
            once: false,
        },
        Family {
            thunk_trait: ident("FnThunk"),
            template_const: ident("THUNK_TEMPLATE"),
            call: ident("call"),
            receiver: quote!(&self),
            fn_trait: ident("Fn"),
            make: ident("make_thunk"),
            packed: ident("PackedFn"),
            fun_binding: quote!(),
            once: false,
        },
    ]
}

/// Names not used by the signature.
struct Fresh(BTreeSet<String>);

impl Fresh {
    fn new(item: &Hrtb) -> Self {
        struct Collect(BTreeSet<String>);
        impl Visit<'_> for Collect {
            fn visit_ident(&mut self, ident: &Ident) {
                self.0.insert(ident.to_string());
            }
        }
        let mut collect = Collect(BTreeSet::new());
        collect.visit_generics(&item.generics);
        collect.visit_type_bare_fn(&item.fn_ty);
        collect.0.insert(item.ident.to_string());
        Self(collect.0)
    }

    fn name(&mut self, base: &str) -> String {
        let mut name = base.to_owned();
        let mut n = 0;
        while self.0.contains(&name) {
            n += 1;
            name = format!("{base}{n}");
        }
        self.0.insert(name.clone());
        name
    }

    fn ident(&mut self, base: &str) -> Ident {
        Ident::new(&self.name(base), Span::call_site())
    }

    fn lifetime(&mut self, base: &str) -> Lifetime {
        Lifetime::new(&format!("'{}", self.name(base)), Span::call_site())
    }
}

/// Replaces lifetimes by name (keeping the original span, for diagnostics).
struct Substitute<'m>(&'m [(Ident, Lifetime)]);

impl VisitMut for Substitute<'_> {
    fn visit_lifetime_mut(&mut self, lt: &mut Lifetime) {
        if let Some((_, to)) = self.0.iter().find(|(from, _)| lt.ident == *from) {
            *lt = Lifetime::new(&to.to_string(), lt.ident.span());
        }
    }
}

fn substitute(ty: &Type, map: &[(Ident, Lifetime)]) -> Type {
    let mut ty = ty.clone();
    Substitute(map).visit_type_mut(&mut ty);
    ty
}

fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

struct Expansion<'h> {
    krate: &'h TokenTree,
    item: &'h Hrtb,
    cc: Ident,
    /// The closure type parameter of the thunk impls and templates.
    closure: Ident,
    /// The closure type parameter of the packed-closure factories.
    packed_closure: Ident,
    /// The GAT lifetime parameters: the plan's `gat`, padded with fresh unused ones.
    gat: Vec<Lifetime>,
    /// Fresh lifetimes for the `for<..>` of the factories' packed-closure bound.
    packed_lifetimes: Vec<Lifetime>,
    /// The bound lifetimes renamed for the templates' generic parameters.
    template_lifetimes: Vec<(Ident, Lifetime)>,
    coerce: Ident,
    /// `a0, a1, ..` (mixed-site).
    args: Vec<Ident>,
    /// The alias's `#[cfg]` attributes, repeated on every generated item.
    cfgs: TokenStream,
}

impl<'h> Expansion<'h> {
    fn new(krate: &'h TokenTree, item: &'h Hrtb) -> Self {
        let mut fresh = Fresh::new(item);
        let mut gat = item.plan.gat.clone();
        for n in gat.len()..crate::lifetimes::GAT_LIFETIMES {
            gat.push(fresh.lifetime(&format!("__unused{n}")));
        }
        let packed_lifetimes = ["__x", "__y", "__z"]
            .iter()
            .map(|base| fresh.lifetime(base))
            .collect();
        let template_lifetimes = item
            .bound
            .iter()
            .map(|lt| (lt.ident.clone(), fresh.lifetime(&format!("__{}", lt.ident))))
            .collect();
        Self {
            krate,
            item,
            cc: format_ident!("{}_CC", item.ident),
            closure: fresh.ident("__F"),
            packed_closure: fresh.ident("__P"),
            gat,
            packed_lifetimes,
            template_lifetimes,
            coerce: fresh.ident("__coerce"),
            args: (0..item.inputs.len())
                .map(|i| local(&format!("a{i}")))
                .collect(),
            cfgs: item
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("cfg"))
                .map(|a| quote!(#a))
                .collect(),
        }
    }

    fn items(&self) -> TokenStream {
        let mut out = self.newtype();
        out.extend(self.fn_ptr_impl());
        for family in &families() {
            out.extend(self.thunk_impl(family));
        }
        out
    }

    /// `-> R`, or nothing for `()`.
    fn ret(output: Option<&Type>) -> TokenStream {
        output.map(|ty| quote!(-> #ty)).unwrap_or_default()
    }

    /// `for<'a, ..> FnX(Args) -> Ret`, with the signature's own lifetime names.
    fn fn_bound(&self, fn_trait: &Ident) -> TokenStream {
        let bound = &self.item.bound;
        let binder = if bound.is_empty() {
            quote!()
        } else {
            quote!(for<#(#bound),*>)
        };
        let inputs = &self.item.inputs;
        let ret = Self::ret(self.item.output.as_ref());
        quote!(#binder ::core::ops::#fn_trait(#(#inputs),*) #ret)
    }

    /// The alias's generics without defaults, with `lifetimes` first, `ty` last and
    /// `predicates` added to the `where` clause.
    fn generics_with(
        &self,
        lifetimes: &[Lifetime],
        ty: Option<&Ident>,
        predicates: Vec<WherePredicate>,
    ) -> Generics {
        let mut generics = self.item.generics.clone();
        for param in &mut generics.params {
            match param {
                GenericParam::Type(t) => {
                    t.eq_token = None;
                    t.default = None;
                }
                GenericParam::Const(c) => {
                    c.eq_token = None;
                    c.default = None;
                }
                GenericParam::Lifetime(_) => {}
            }
        }
        for (i, lt) in lifetimes.iter().enumerate() {
            generics
                .params
                .insert(i, GenericParam::Lifetime(LifetimeParam::new(lt.clone())));
        }
        if let Some(ty) = ty {
            generics.params.push(parse_quote!(#ty));
        }
        generics.make_where_clause().predicates.extend(predicates);
        generics
    }

    /// The predicates the `FnPtr` view adds: `'static` for the parameters under a bound
    /// lifetime.
    fn static_predicates(&self) -> Vec<WherePredicate> {
        let plan = &self.item.plan;
        let types = plan.static_types.iter().map(|t| parse_quote!(#t: 'static));
        let lifetimes = plan
            .static_lifetimes
            .iter()
            .map(|lt| parse_quote!(#lt: 'static));
        types.chain(lifetimes).collect()
    }

    /// `[(bound lifetime, 'static)]` for the pinned lifetimes.
    fn pinned_map(&self) -> Vec<(Ident, Lifetime)> {
        self.item
            .plan
            .pinned
            .iter()
            .map(|lt| (lt.ident.clone(), Lifetime::new("'static", lt.span())))
            .collect()
    }

    fn newtype(&self) -> TokenStream {
        let Hrtb {
            attrs,
            vis,
            ident: name,
            generics,
            fn_ty,
            ..
        } = self.item;
        let cc = &self.cc;
        let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
        let self_ty = quote!(#name #ty_generics);
        let name_str = name.to_string();

        let default_doc = if attrs.iter().any(|a| a.path().is_ident("doc")) {
            quote!()
        } else {
            let doc = format!(
                " A bare function pointer type with higher-ranked lifetimes, declared with \
                 `bare_hrtb!`; its calling-convention marker is [`{cc}`]."
            );
            quote!(#[doc = #doc])
        };
        let pinned_doc = if self.item.plan.pinned.is_empty() {
            quote!()
        } else {
            let doc = format!(
                " In its `FnPtr` view (`FnPtr::call`, `Fn*Thunk::call*`) the bound \
                 lifetime(s) {} are `'static`, and `FnPtr::make_*_thunk` (so \
                 `thunk_factory`) cannot build thunks for it: build them from closures \
                 (`BareFn*::new`, `with_cc`).",
                self.pinned_list()
            );
            quote!(#[doc = ""] #[doc = #doc])
        };
        let cc_doc = format!(
            " The calling-convention marker of [`{name}`]: `BareFn*::with_cc({cc}, closure)` \
             makes a thunk of that signature."
        );
        let f = local("f");
        let cfgs = &self.cfgs;

        quote! {
            #default_doc
            #(#attrs)*
            #pinned_doc
            #[repr(transparent)]
            #vis struct #name #generics (pub #fn_ty) #where_clause;

            #cfgs
            #[doc = #cc_doc]
            #[allow(non_camel_case_types)]
            #[derive(
                ::core::fmt::Debug,
                ::core::clone::Clone,
                ::core::marker::Copy,
                ::core::default::Default,
                ::core::cmp::PartialEq,
                ::core::cmp::Eq,
                ::core::hash::Hash,
            )]
            #vis struct #cc;

            #cfgs
            impl #impl_generics #self_ty #where_clause {
                /// The calling-convention marker of this signature.
                #[inline(always)]
                pub const fn cc() -> #cc {
                    #cc
                }
            }

            #cfgs
            #[automatically_derived]
            impl #impl_generics ::core::clone::Clone for #self_ty #where_clause {
                #[inline(always)]
                fn clone(&self) -> Self {
                    *self
                }
            }

            #cfgs
            #[automatically_derived]
            impl #impl_generics ::core::marker::Copy for #self_ty #where_clause {}

            #cfgs
            #[automatically_derived]
            impl #impl_generics ::core::fmt::Debug for #self_ty #where_clause {
                fn fmt(&self, #f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    #f.debug_tuple(#name_str).field(&self.0).finish()
                }
            }

            #cfgs
            #[automatically_derived]
            #[allow(improper_ctypes_definitions)]
            impl #impl_generics ::core::convert::From<#fn_ty> for #self_ty #where_clause {
                #[inline(always)]
                fn from(#f: #fn_ty) -> Self {
                    Self(#f)
                }
            }

            #cfgs
            #[automatically_derived]
            #[allow(improper_ctypes_definitions)]
            impl #impl_generics ::core::convert::From<#self_ty> for #fn_ty #where_clause {
                #[inline(always)]
                fn from(#f: #self_ty) -> Self {
                    #f.0
                }
            }

            #cfgs
            #[automatically_derived]
            #[allow(improper_ctypes_definitions)]
            impl #impl_generics ::core::ops::Deref for #self_ty #where_clause {
                type Target = #fn_ty;

                #[inline(always)]
                fn deref(&self) -> &Self::Target {
                    &self.0
                }
            }
        }
    }

    fn pinned_list(&self) -> String {
        self.item
            .plan
            .pinned
            .iter()
            .map(|lt| format!("`{lt}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn fn_ptr_impl(&self) -> TokenStream {
        let krate = self.krate;
        let name = &self.item.ident;
        let cc = &self.cc;
        let fn_ty = &self.item.fn_ty;
        let gat = &self.gat;
        let generics = self.generics_with(&[], None, self.static_predicates());
        let (impl_generics, _, where_clause) = generics.split_for_impl();
        let (_, ty_generics, _) = self.item.generics.split_for_impl();

        let pinned = self.pinned_map();
        let args_view = self.item.inputs.iter().map(|ty| substitute(ty, &pinned));
        let ret_view = match &self.item.output {
            Some(ty) => {
                let ty = substitute(ty, &pinned);
                quote!(#ty)
            }
            None => quote!(()),
        };
        let args = local("args");
        let ptr = local("ptr");
        let index = (0..self.item.inputs.len()).map(Index::from);
        let makers = families().map(|family| self.make_thunk_fn(&family));
        let cfgs = &self.cfgs;

        quote! {
            // SAFETY: a `#[repr(transparent)]` newtype of a function pointer; `CC` is a
            // zero-sized marker; `Args`/`Ret` are the signature with the bound lifetimes
            // named by the GAT parameters (those that cannot be are `'static`).
            #cfgs
            #[allow(improper_ctypes_definitions)]
            unsafe impl #impl_generics #krate::traits::FnPtr for #name #ty_generics #where_clause {
                type CC = #cc;
                type Args<#(#gat),*> = (#(#args_view,)*);
                type Ret<#(#gat),*> = #ret_view;

                #[inline(always)]
                #[allow(unused_variables)]
                unsafe fn call<#(#gat),*>(self, #args: Self::Args<#(#gat),*>) -> Self::Ret<#(#gat),*> {
                    // SAFETY: the caller upholds the contract of the pointee (`FnPtr::call`).
                    unsafe { (self.0)(#(#args.#index),*) }
                }

                #[inline(always)]
                unsafe fn from_ptr(#ptr: *const ()) -> Self {
                    // SAFETY: `*const ()` and the fn pointer have the same size; the caller
                    // guarantees the address is a function of this signature.
                    Self(unsafe { ::core::mem::transmute_copy::<*const (), #fn_ty>(&#ptr) })
                }

                #[inline(always)]
                fn to_ptr(self) -> *const () {
                    self.0 as *const ()
                }

                #(#makers)*
            }
        }
    }

    /// `make_*_thunk`: the packed closure wrapped in a closure over the unpacked arguments,
    /// made higher-ranked by a coercion function. With pinned lifetimes the packed closure
    /// cannot stand for the higher-ranked one: a post-monomorphization error says so.
    fn make_thunk_fn(&self, family: &Family) -> TokenStream {
        let krate = self.krate;
        let Family {
            thunk_trait,
            make,
            packed,
            fn_trait,
            fun_binding,
            ..
        } = family;
        let cc = &self.cc;
        let p = &self.packed_closure;
        let [x, y, z] = [0, 1, 2].map(|i| &self.packed_lifetimes[i]);
        let coerce = &self.coerce;
        let closure = &self.closure;
        let bound = self.fn_bound(fn_trait);
        let coerce_generics =
            self.generics_with(&[], Some(closure), vec![parse_quote!(#closure: #bound)]);
        let (coerce_params, _, coerce_where) = coerce_generics.split_for_impl();
        let type_args = self.item.type_and_const_params();
        let fun = local("fun");
        let f = local("f");
        let args = &self.args;

        let pinned = !self.item.plan.pinned.is_empty();
        let fun_binding = if pinned {
            quote!()
        } else {
            fun_binding.clone()
        };
        let body = if !pinned {
            quote! {
                (#cc, #coerce::<#(#type_args,)* _>(move |#(#args),*| #fun((#(#args,)*))))
            }
        } else {
            let message = format!(
                "bare_hrtb!: `{}` sets the bound lifetime(s) {} to 'static in its FnPtr view, \
                 so FnPtr::{make} (used by thunk_factory) cannot build a thunk for it; build \
                 the thunk from a closure instead (BareFn*::new, with_cc)",
                self.item.ident,
                self.pinned_list()
            );
            let unused = (0..args.len()).map(|i| local(&format!("_a{i}")));
            // Spanned on the alias's name: the error points there.
            let error = quote_spanned!(self.item.ident.span()=> ::core::panic!(#message));
            quote! {
                struct Unrepresentable<G>(::core::marker::PhantomData<G>);
                impl<G> Unrepresentable<G> {
                    const ERROR: () = #error;
                }
                let () = Unrepresentable::<#p>::ERROR;
                ::core::mem::drop(#fun);
                (#cc, #coerce::<#(#type_args,)* _>(|#(#unused),*| ::core::unreachable!()))
            }
        };

        quote! {
            #[inline(always)]
            fn #make<#p>(#fun_binding #fun: #p) -> impl #krate::traits::#thunk_trait<Self>
            where
                #p: for<#x, #y, #z> #krate::traits::#packed<#x, #y, #z, Self>,
            {
                #[inline(always)]
                fn #coerce #coerce_params (#f: #closure) -> #closure #coerce_where {
                    #f
                }
                #body
            }
        }
    }

    fn thunk_impl(&self, family: &Family) -> TokenStream {
        let krate = self.krate;
        let Family {
            thunk_trait,
            template_const,
            call,
            receiver,
            fn_trait,
            once,
            ..
        } = family;
        let name = &self.item.ident;
        let cc = &self.cc;
        let closure = &self.closure;
        let gat = &self.gat;
        let abi = &self.item.abi;
        let bound = self.fn_bound(fn_trait);

        let mut predicates = self.static_predicates();
        predicates.push(parse_quote!(#closure: #bound));
        let generics = self.generics_with(&[], Some(closure), predicates);
        let (impl_generics, _, where_clause) = generics.split_for_impl();
        let (_, ty_generics, _) = self.item.generics.split_for_impl();
        let self_ty = quote!(#name #ty_generics);

        // The template: the signature with the bound lifetimes as generic parameters.
        let template_lifetimes: Vec<Lifetime> = self
            .template_lifetimes
            .iter()
            .map(|(_, lt)| lt.clone())
            .collect();
        let template_generics = self.generics_with(
            &template_lifetimes,
            Some(closure),
            vec![parse_quote!(#closure: #bound)],
        );
        let (template_params, _, template_where) = template_generics.split_for_impl();
        let args = &self.args;
        let arg_tys = self
            .item
            .inputs
            .iter()
            .map(|ty| substitute(ty, &self.template_lifetimes));
        let ret = Self::ret(
            self.item
                .output
                .as_ref()
                .map(|ty| substitute(ty, &self.template_lifetimes))
                .as_ref(),
        );
        let signature = quote!((#(#args: #arg_tys),*) #ret #template_where);
        let type_args: Vec<&Ident> = self.item.type_and_const_params().collect();

        let this = local("this");
        let header = local("header");
        let pair = quote!((#cc, #closure));
        let (zst_body, thunk_body) = if *once {
            (
                quote! {
                    // SAFETY: this template is used only when `conjurable` holds: the pair
                    // is zero-sized, so a read from a dangling aligned pointer is valid.
                    let #this = unsafe { ::core::ptr::NonNull::<#pair>::dangling().as_ptr().read() };
                },
                quote! {
                    let #header: *const #krate::__private::OnceHeader;
                    // SAFETY: the stub only loads a pointer-sized immediate (the closure's
                    // header in a thunk copy, which is the only copy that ever runs).
                    unsafe { #krate::__closure_ffi_thunk_stub!(#header) };
                    // SAFETY: the header belongs to a live once-thunk that has not been
                    // called; `take` moves the closure out exactly once.
                    let #this: #pair = unsafe { #krate::__private::OnceHeader::take(#header) };
                },
            )
        } else {
            let (reference, pointer) = if *fn_trait == "FnMut" {
                (quote!(&mut), quote!(*mut))
            } else {
                (quote!(&), quote!(*const))
            };
            (
                quote! {
                    // SAFETY: used only when the pair is zero-sized (`conjurable`): a
                    // dangling aligned pointer is a valid reference to it.
                    let #this = unsafe { #reference *::core::ptr::NonNull::<#pair>::dangling().as_ptr() };
                },
                quote! {
                    let #this: #pointer #pair;
                    // SAFETY: the stub only loads a pointer-sized immediate (the closure's
                    // address in a thunk copy, which is the only copy that ever runs).
                    unsafe { #krate::__closure_ffi_thunk_stub!(#this) };
                    // SAFETY: the thunk owns the pair and outlives every call through its
                    // pointer (the caller's contract); FnMut thunks are not reentrant.
                    let #this = unsafe { #reference *#this };
                },
            )
        };
        let zst = local("zst");
        let thunk = local("thunk");
        let call_args = local("args");
        let index = (0..args.len()).map(Index::from);
        let cfgs = &self.cfgs;

        // The templates allow `improper_ctypes_definitions`: whether the signature suits
        // its ABI is the user's choice, made where the alias is written (closure-ffi's own
        // generic templates are not linted either).
        quote! {
            // SAFETY: the templates follow the trait's contract (closure-ffi's
            // `src/cc/impls.rs`): the capturing one starts with the stub and reads the
            // closure through the pointer it loads; the zero-sized one conjures it.
            #cfgs
            unsafe impl #impl_generics #krate::traits::#thunk_trait<#self_ty> for #pair #where_clause {
                const #template_const: *const u8 = {
                    #[allow(clippy::too_many_arguments, improper_ctypes_definitions)]
                    unsafe extern #abi fn #zst #template_params #signature {
                        #zst_body
                        (#this.1)(#(#args),*)
                    }
                    #[allow(clippy::too_many_arguments, improper_ctypes_definitions)]
                    unsafe extern #abi fn #thunk #template_params #signature {
                        #thunk_body
                        (#this.1)(#(#args),*)
                    }
                    if #krate::__private::conjurable::<#pair>(#once) {
                        #zst::<#(#type_args,)* #closure> as *const u8
                    } else {
                        #thunk::<#(#type_args,)* #closure> as *const u8
                    }
                };

                #[inline(always)]
                #[allow(unused_variables)]
                unsafe fn #call<#(#gat),*>(
                    #receiver,
                    #call_args: <#self_ty as #krate::traits::FnPtr>::Args<#(#gat),*>,
                ) -> <#self_ty as #krate::traits::FnPtr>::Ret<#(#gat),*> {
                    (self.1)(#(#call_args.#index),*)
                }
            }
        }
    }
}
