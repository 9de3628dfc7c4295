//! A drop-in libffi: `ffi.h` and `libffi.so.8` on closure-ffi's dynamic layer.
//!
//! The crate builds `libffi.so` with soname `libffi.so.8` and libffi's symbol version nodes
//! (libffi.map, linked by build.rs), so programs and language runtimes linked against the
//! system libffi run on it unchanged, and programs compiled against `include/ffi.h` run on
//! either. See capi/README.md for installing it and for using it through `LD_PRELOAD`.
//!
//! - prep.rs: `ffi_type` graphs to interned signatures (a compiled dynamic-layer Cif each);
//! - call.rs: `ffi_prep_cif(_var)`, `ffi_call`, call plans, struct offsets, queries;
//! - closure.rs: closure memory and `ffi_prep_closure(_loc)`;
//! - raw.rs: the raw and Java raw APIs;
//! - go/: Go closures (the static entries and `ffi_call_go` shims per architecture);
//! - ffi.rs: the C structures and the exported `ffi_type_*` objects.
//!
//! x86_64, i386 (`i686-unknown-linux-gnu`), aarch64 and 32-bit Arm (armv7 and thumbv7neon
//! gnueabihf) Linux build the API, each with libffi's constants, layouts and symbol set for
//! that target (include/ffitarget.h); elsewhere the crate is empty. build.rs decides which
//! targets those are and sets `cfg(capi_target)` for them.

#[cfg(capi_target)]
mod call;
#[cfg(capi_target)]
mod closure;
#[cfg(capi_target)]
pub mod ffi;
#[cfg(capi_target)]
mod go;
#[cfg(capi_target)]
mod prep;
#[cfg(capi_target)]
mod raw;

#[cfg(capi_target)]
pub use call::*;
#[cfg(capi_target)]
pub use closure::*;
#[cfg(capi_target)]
pub use go::*;
#[cfg(capi_target)]
pub use raw::*;
