//! Procedural macros for `closure-ffi`.
//!
//! The `bare_hrtb!` macro (higher-ranked bare function signatures) lands with the macros
//! issue; this crate is a workspace member from the start so that the dependency shape of
//! `closure-ffi` does not change when it does.
