//! The C programs in `tests/c/`, run against the `libffi.so` this package builds.
//!
//! For each program: copy the cdylib into a fresh temporary directory as `libffi.so.8`,
//! compile the program with gcc against `include/ffi.h`, link it to that copy (with an
//! rpath), run it and require exit status 0 (the programs print every failed check).
//! Then run it again under the dynamic loader's `LD_DEBUG=bindings` with `LD_BIND_NOW=1`
//! and require that its `ffi_call` bound to the copy, at libffi's symbol version
//! `LIBFFI_BASE_8.0`, and that no symbol bound to any other libffi (the system's, say).
//!
//! The programs themselves say what they cover, in their opening comments. gcc is required:
//! without it these tests fail rather than skip. On i686 the programs are compiled with
//! `gcc -m32` (gcc-12-multilib) against the same header, which then describes i386, and
//! the ones about x86_64-only features are not run (the `#[cfg]`s in `c_programs!` below).
//! On aarch64 (32-bit Arm) they are compiled with `aarch64-linux-gnu-gcc`
//! (`arm-linux-gnueabihf-gcc`) and, when the test runs under qemu-user
//! (`CLOSURE_FFI_TEST_RUNNER`, set by scripts/qemu-aarch64-run and qemu-arm-run), run
//! through the same emulator, with the loader's variables given to the guest only (`-E`/`-U`).
#![cfg(all(
    any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm"
    ),
    target_os = "linux"
))]

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One `#[test]` per program in `tests/c/`, and the list of them. A program that exists
/// for one target only carries a `#[cfg]` (with the reason beside it): it still counts as
/// listed, but has no test elsewhere.
macro_rules! c_programs {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        const PROGRAMS: &[&str] = &[$(stringify!($name)),*];
        $(
            $(#[$attr])*
            #[test]
            fn $name() {
                run_program(stringify!($name));
            }
        )*
    };
}

c_programs!(
    call_plan,
    closure_alias,
    closures,
    complex,
    go_closure,
    hide_basic_types,
    // The i386 calling conventions (stdcall, fastcall, thiscall, ms_cdecl, register).
    #[cfg(target_arch = "x86")]
    i386_abis,
    // __int128 exists on the 64-bit targets only (no FFI_TARGET_HAS_INT128 on i386 and
    // 32-bit Arm).
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    int128,
    java_raw,
    layout,
    // About a long double wider than double; on 32-bit Arm it is double.
    #[cfg(not(target_arch = "arm"))]
    longdouble,
    misuse,
    // Input validation that does not depend on the target (the walk limits it checks take
    // ~90 s under qemu-user per target), so it runs on the native targets only.
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    misuse_strict,
    preset_layout,
    raw,
    scalars,
    structs,
    variadic,
    version,
    // FFI_WIN64/FFI_GNUW64 are x86_64 conventions.
    #[cfg(target_arch = "x86_64")]
    win64,
);

/// Every `tests/c/*.c` has its test above (so a new program cannot be skipped silently).
#[test]
fn every_c_program_has_a_test() {
    let dir = manifest_dir().join("tests/c");
    let mut found: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "c"))
        .map(|path| {
            path.file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    found.sort();
    let mut listed: Vec<String> = PROGRAMS.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(
        found,
        listed,
        "tests/c/*.c and the c_programs! list in {} differ",
        file!()
    );
}

/// gcc's flags for the target the tests were built for.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const GCC_TARGET_FLAGS: &[&str] = &[];
#[cfg(target_arch = "x86")]
const GCC_TARGET_FLAGS: &[&str] = &["-m32"];
#[cfg(target_arch = "arm")]
const GCC_TARGET_FLAGS: &[&str] = &[];

/// The emulator the test runs under (`CLOSURE_FFI_TEST_RUNNER`, e.g. `qemu-aarch64`), split
/// into words; empty when the test runs natively.
fn runner() -> Vec<String> {
    std::env::var("CLOSURE_FFI_TEST_RUNNER")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The C compiler for the target: gcc natively, the cross gcc under an emulator (the
/// compiler is a host program, which the emulated test can start).
fn compiler() -> &'static str {
    if runner().is_empty() {
        "gcc"
    } else if cfg!(target_arch = "aarch64") {
        "aarch64-linux-gnu-gcc"
    } else if cfg!(target_arch = "arm") {
        "arm-linux-gnueabihf-gcc"
    } else {
        "gcc"
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The cdylib cargo built for this test run: `<target>/<profile>/libffi.so`, next to the
/// `deps/` directory holding this test executable.
fn built_library() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe
        .parent()
        .expect("the test executable is in <target>/<profile>/deps");
    let profile = deps.parent().expect("deps/ is in <target>/<profile>");
    let candidates = [profile.join("libffi.so"), deps.join("libffi.so")];
    for candidate in &candidates {
        if candidate.is_file() {
            return candidate.clone();
        }
    }
    panic!(
        "closure-ffi-capi's cdylib is not where cargo puts it (looked for {} and {}); \
         build the package with cargo (cargo test -p closure-ffi-capi) first",
        candidates[0].display(),
        candidates[1].display()
    );
}

/// A fresh directory under the system's temporary directory, removed when dropped (also
/// when the test panics).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("closure-ffi-capi-c-{name}-{}", std::process::id()));
        // A leftover of an earlier process with the same id: start from scratch.
        match fs::remove_dir_all(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => panic!("cannot remove the stale {}: {e}", path.display()),
        }
        fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// stdout and stderr of a finished process, for failure messages.
fn describe(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The loader variables a program must not inherit (an inherited LD_PRELOAD or
/// LD_LIBRARY_PATH could bring in another libffi).
const LOADER_VARS: [&str; 5] = [
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_DEBUG",
    "LD_DEBUG_OUTPUT",
    "LD_BIND_NOW",
];

/// A command for the compiled program with no loader overrides from the environment and
/// with `loader_env` set for the program's loader. Under an emulator the variables go to
/// the guest only (qemu's `-U` and `-E`): the host emulator's own loader would otherwise log
/// its bindings (to host libraries, possibly the system libffi) into the same files.
fn program_command(prog: &Path, loader_env: &[(&str, &Path)]) -> Command {
    let runner = runner();
    let mut cmd;
    if let Some((emulator, args)) = runner.split_first() {
        cmd = Command::new(emulator);
        cmd.args(args);
        for var in LOADER_VARS {
            cmd.env_remove(var);
            if !loader_env.iter().any(|(set, _)| *set == var) {
                cmd.arg("-U").arg(var);
            }
        }
        for (var, value) in loader_env {
            cmd.arg("-E").arg(format!("{var}={}", value.display()));
        }
        cmd.arg(prog);
    } else {
        cmd = Command::new(prog);
        for var in LOADER_VARS {
            cmd.env_remove(var);
        }
        cmd.envs(loader_env.iter().copied());
    }
    cmd
}

fn run_program(name: &str) {
    let source = manifest_dir().join("tests/c").join(format!("{name}.c"));
    let include = manifest_dir().join("include");
    let library = built_library();
    let tmp = TempDir::new(name);
    let lib_copy = tmp.0.join("libffi.so.8");
    fs::copy(&library, &lib_copy).unwrap_or_else(|e| {
        panic!(
            "cannot copy {} to {}: {e}",
            library.display(),
            lib_copy.display()
        )
    });
    let prog = tmp.0.join(name);

    // Compile and link against the copy.
    let compile = Command::new(compiler())
        .args(GCC_TARGET_FLAGS)
        .args(["-std=gnu11", "-O1", "-Wall", "-pthread", "-I"])
        .arg(&include)
        .arg(&source)
        .arg("-o")
        .arg(&prog)
        .arg(format!("-L{}", tmp.0.display()))
        .arg("-l:libffi.so.8")
        .arg(format!("-Wl,-rpath,{}", tmp.0.display()))
        .arg("-lm")
        .output();
    let compile = match compile {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!(
            "{} not found: the C program tests compile tests/c/{name}.c with it \
             (Debian package gcc, or gcc-aarch64-linux-gnu for aarch64); install it",
            compiler()
        ),
        Err(e) => panic!("cannot run {}: {e}", compiler()),
    };
    assert!(
        compile.status.success(),
        "gcc failed to compile tests/c/{name}.c\n{}",
        describe(&compile)
    );

    // Run it.
    let run = program_command(&prog, &[])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()));
    assert!(
        run.status.success(),
        "tests/c/{name}.c failed against closure-ffi's libffi ({})\n{}",
        lib_copy.display(),
        describe(&run)
    );

    // Run it again, recording the loader's symbol bindings (all resolved at start-up).
    let log = tmp.0.join("ld-debug");
    let traced = program_command(
        &prog,
        &[
            ("LD_DEBUG", Path::new("bindings")),
            ("LD_DEBUG_OUTPUT", &log),
            ("LD_BIND_NOW", Path::new("1")),
        ],
    )
    .output()
    .unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()));
    assert!(
        traced.status.success(),
        "tests/c/{name}.c failed under LD_DEBUG=bindings\n{}",
        describe(&traced)
    );
    let bindings = read_logs(&tmp.0, "ld-debug");
    check_bindings(name, &bindings, &prog, &lib_copy);
}

/// The loader writes `<prefix>.<pid>` files; returns them concatenated.
fn read_logs(dir: &Path, prefix: &str) -> String {
    let mut text = String::new();
    for entry in fs::read_dir(dir).expect("the temporary directory") {
        let path = entry.expect("directory entry").path();
        let is_log = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(&format!("{prefix}.")));
        if is_log {
            text.push_str(&fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!("cannot read the loader's log {}: {e}", path.display())
            }));
        }
    }
    text
}

/// The object a binding line resolved to: in
/// `  1234:\tbinding file /tmp/x/prog [0] to /tmp/x/libffi.so.8 [0]: normal symbol `ffi_call' [LIBFFI_BASE_8.0]`
/// the text from `/tmp/x/libffi.so.8` on.
fn binding_target(line: &str) -> Option<&str> {
    line.split_once("] to ").map(|(_, target)| target)
}

/// ffi_call from the program bound to `lib` at LIBFFI_BASE_8.0, and nothing to another libffi.
fn check_bindings(name: &str, bindings: &str, prog: &Path, lib: &Path) {
    let from_prog = format!("binding file {} [", prog.display());
    let in_lib = format!("{} [", lib.display());
    let binding_lines: Vec<&str> = bindings
        .lines()
        .filter(|l| l.contains("binding file "))
        .collect();
    assert!(
        !binding_lines.is_empty(),
        "tests/c/{name}.c: LD_DEBUG=bindings recorded no bindings (log:\n{bindings})"
    );

    let ffi_call = binding_lines
        .iter()
        .find(|l| l.contains(&from_prog) && l.contains("symbol `ffi_call'"));
    let Some(line) = ffi_call else {
        let from_program: Vec<&str> = binding_lines
            .iter()
            .copied()
            .filter(|l| l.contains(&from_prog))
            .collect();
        panic!(
            "tests/c/{name}.c: no binding of ffi_call from {} recorded (does the program call \
             ffi_call?); its bindings:\n{}",
            prog.display(),
            from_program.join("\n")
        );
    };
    assert!(
        binding_target(line).is_some_and(|t| t.starts_with(&in_lib)),
        "tests/c/{name}.c: ffi_call bound elsewhere than {}:\n{line}",
        lib.display()
    );
    assert!(
        line.contains("[LIBFFI_BASE_8.0]"),
        "tests/c/{name}.c: ffi_call bound without libffi's symbol version LIBFFI_BASE_8.0:\n{line}"
    );

    // No symbol of any object in the process bound to another libffi.
    let foreign: Vec<&str> = binding_lines
        .iter()
        .copied()
        .filter(|l| {
            binding_target(l).is_some_and(|t| t.contains("libffi.so") && !t.starts_with(&in_lib))
        })
        .collect();
    assert!(
        foreign.is_empty(),
        "tests/c/{name}.c: symbols bound to a libffi other than {}:\n{}",
        lib.display(),
        foreign.join("\n")
    );
}
