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
    // unwind_frames.c alone is built with -fexceptions: Rust panics unwind through its
    // frames and must run their `cleanup` handlers (tests/unwind_c.rs).
    let (unwind, files): (Vec<_>, Vec<_>) = files
        .into_iter()
        .partition(|path| path.ends_with("unwind_frames.c"));
    // The i386 peers are built without frame pointers, in debug builds too: a caller with
    // a frame pointer restores esp from ebp and hides a callee that pops the wrong number
    // of bytes, which tests/dynamic_i386.rs must see (as a crash or a repeated call).
    let (i386, files): (Vec<_>, Vec<_>) = files.into_iter().partition(|path| {
        path.file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("dynamic_i386"))
    });
    cc::Build::new()
        .files(i386)
        .include("c")
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true)
        .force_frame_pointer(false)
        .flag("-fomit-frame-pointer")
        .flag_if_supported("-Wno-attributes")
        .compile("closure_ffi_peer_i386");
    cc::Build::new()
        .files(unwind)
        .include("c")
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true)
        .flag("-fexceptions")
        .compile("closure_ffi_peer_unwind");
    build
        .files(files)
        .include("c")
        .opt_level(2)
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-Wno-attributes")
        .compile("closure_ffi_peer");
}
