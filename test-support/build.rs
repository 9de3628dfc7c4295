//! Compiles the C peer.

fn main() {
    println!("cargo::rerun-if-changed=c");
    cc::Build::new()
        .file("c/callers.c")
        .file("c/registry.c")
        .include("c")
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wno-attributes")
        .compile("closure_ffi_peer");
}
