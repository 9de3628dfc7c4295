//! Rejects feature combinations that make no sense, with a message that says what to do.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    thumb_cfg();
    dynamic_cfg();
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

/// Sets `cfg(closure_ffi_dynamic)` on the targets with a dynamic-layer executor (Cif,
/// closures, the typed layer): x86_64, i686, aarch64 and 32-bit Arm Linux. The
/// one place that list is written for the library's items.
fn dynamic_cfg() {
    println!("cargo::rustc-check-cfg=cfg(closure_ffi_dynamic)");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let (arch, os) = (var("CARGO_CFG_TARGET_ARCH"), var("CARGO_CFG_TARGET_OS"));
    let executor = match arch.as_str() {
        "x86_64" => true,
        "x86" => true,
        "aarch64" | "arm" => os == "linux",
        _ => false,
    };
    if executor {
        println!("cargo::rustc-cfg=closure_ffi_dynamic");
    }
}

/// Sets `cfg(closure_ffi_thumb)` when the target's Rust code is T32 (Thumb-2): stable Rust
/// does not expose `target_feature = "thumb-mode"` as a cfg (checked with rustc 1.95 on
/// `thumbv7neon-unknown-linux-gnueabihf`), so the target name (`thumb*`) decides, or the
/// feature when a compiler does report it. The 32-bit Arm stub and relocator use it.
fn thumb_cfg() {
    println!("cargo::rustc-check-cfg=cfg(closure_ffi_thumb)");
    let target = std::env::var("TARGET").unwrap_or_default();
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let arm = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "arm");
    if arm && (target.starts_with("thumb") || features.split(',').any(|f| f == "thumb-mode")) {
        println!("cargo::rustc-cfg=closure_ffi_thumb");
    }
}
