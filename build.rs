//! Rejects feature combinations that make no sense, with a message that says what to do.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=RUSTC_BOOTSTRAP");
    let safe_jit = std::env::var_os("CARGO_FEATURE_SAFE_JIT").is_some();
    let no_safe_jit = std::env::var_os("CARGO_FEATURE_NO_SAFE_JIT").is_some();
    if !safe_jit && !no_safe_jit {
        panic!(
            "closure-ffi: enable feature `safe_jit` (thunk prologues are relocated with \
             Capstone). With --no-default-features, add `--features safe_jit`."
        );
    }
    if std::env::var_os("CARGO_FEATURE_C_VARIADIC").is_some() && !rustc_is_nightly() {
        panic!(
            "closure-ffi: feature `c_variadic` needs a nightly compiler (it uses \
             #![feature(c_variadic)]). Build with `cargo +nightly`, or drop the feature."
        );
    }
    if !safe_jit {
        panic!(
            "closure-ffi: feature `no_safe_jit` (copying prologues without relocation) is not \
             supported: copied prologues are only correct when relocated. Enable `safe_jit`."
        );
    }
}

/// Whether the compiler building us accepts `#![feature]` (nightly or a dev build).
fn rustc_is_nightly() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|out| {
            let version = String::from_utf8_lossy(&out.stdout);
            version.contains("nightly") || version.contains("-dev")
        })
        .unwrap_or(false)
        || std::env::var_os("RUSTC_BOOTSTRAP").is_some()
}
