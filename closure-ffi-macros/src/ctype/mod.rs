//! `#[derive(CType)]`: the C type description of a `#[repr(C)]` struct or union.
//!
//! A pipeline like `bare_hrtb!`'s: [`parse`] (the derive input and its `#[repr(..)]`
//! items, judging nothing), [`validate`] (what C cannot describe becomes an error spanned on
//! the offending tokens), [`expand`] (the `unsafe impl CType`).

pub mod expand;
pub mod parse;
pub mod validate;
