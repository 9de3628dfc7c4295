//! Compiles the C peer: every `c/*.c` file.

fn main() {
    println!("cargo::rerun-if-changed=c");
    let mut build = cc::Build::new();
    let mut files: Vec<_> = std::fs::read_dir("c")
        .expect("test-support/c exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .collect();
    files.sort();
    build
        .files(files)
        .include("c")
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wno-attributes")
        .compile("closure_ffi_peer");
}
