//! Rejects feature combinations that make no sense, with a message that says what to do.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let safe_jit = std::env::var_os("CARGO_FEATURE_SAFE_JIT").is_some();
    let no_safe_jit = std::env::var_os("CARGO_FEATURE_NO_SAFE_JIT").is_some();
    if !safe_jit && !no_safe_jit {
        panic!(
            "closure-ffi: enable feature `safe_jit` (thunk prologues are relocated with \
             Capstone). With --no-default-features, add `--features safe_jit`."
        );
    }
    if !safe_jit {
        panic!(
            "closure-ffi: feature `no_safe_jit` (copying prologues without relocation) is not \
             supported: copied prologues are only correct when relocated. Enable `safe_jit`."
        );
    }
}
