//! Compiling the C peer with gcc and loading it with `dlopen`.

use std::ffi::{c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;

/// gcc flags that select the target of the test binary (the host gcc is x86_64).
const TARGET_FLAGS: &[&str] = if cfg!(target_arch = "x86") {
    &["-m32"]
} else {
    &[]
};

/// The C compiler for the target of the test binary: the host gcc, or on aarch64 and 32-bit
/// Arm the cross compiler (the test binary runs under qemu-user, which starts host programs
/// natively). `arm-linux-gnueabihf-gcc`'s defaults (ARMv7-A, Thumb-2, VFPv3-D16, hard-float)
/// suit both the armv7 and the thumbv7neon targets.
const GCC: &str = if cfg!(target_arch = "aarch64") {
    "aarch64-linux-gnu-gcc"
} else if cfg!(target_arch = "arm") {
    "arm-linux-gnueabihf-gcc"
} else {
    "gcc"
};

/// A shared library built from generated C sources and loaded into the process.
pub struct Library {
    handle: *mut c_void,
    stem: PathBuf,
    files: Vec<PathBuf>,
}

impl Library {
    /// Writes `sources` (plus `support`) next to each other under the test's temporary
    /// directory, compiles them in parallel with `gcc -O1 -fPIC`, links them into one shared
    /// object and loads it. Panics with gcc's diagnostics if that fails, and if gcc is
    /// missing: this test must not pass without running.
    pub fn build(name: &str, support: &str, sources: &[String]) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("abi_conformance");
        std::fs::create_dir_all(&dir).expect("create the temporary directory");
        let stem = dir.join(format!("{name}-{}", std::process::id()));
        let mut files = Vec::new();
        let mut objects = Vec::new();
        for (k, text) in std::iter::once(support)
            .chain(sources.iter().map(String::as_str))
            .enumerate()
        {
            let c = stem.with_extension(format!("{k}.c"));
            std::fs::write(&c, text).expect("write a C source");
            objects.push(c.with_extension("o"));
            files.push(c);
        }
        let jobs = thread::available_parallelism().map_or(2, |n| n.get());
        for batch in files.iter().zip(&objects).collect::<Vec<_>>().chunks(jobs) {
            let children: Vec<_> = batch
                .iter()
                .map(|(c, o)| {
                    let mut cmd = Command::new(GCC);
                    cmd.args(TARGET_FLAGS)
                        .args(["-O1", "-fPIC", "-Wno-psabi", "-c", "-o"])
                        .arg(o)
                        .arg(c);
                    (cmd, c)
                })
                .map(|(mut cmd, c)| (spawn(&mut cmd), c))
                .collect();
            for (child, c) in children {
                let output = child.wait_with_output().expect("wait for gcc");
                check_output(&output, &format!("gcc -O1 -fPIC -c {}", c.display()));
            }
        }
        let so = stem.with_extension("so");
        let mut link = Command::new(GCC);
        link.args(TARGET_FLAGS)
            .args(["-shared", "-o"])
            .arg(&so)
            .args(&objects);
        let output = spawn(&mut link).wait_with_output().expect("wait for gcc");
        check_output(&output, "gcc -shared (link)");
        for object in &objects {
            let _ = std::fs::remove_file(object);
        }
        files.push(so.clone());

        let path = CString::new(so.as_os_str().as_encoded_bytes()).expect("a path without NUL");
        // SAFETY: `path` is a NUL-terminated path to a library we just built; its only
        // initialisers are gcc's defaults.
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(!handle.is_null(), "dlopen {}: {}", so.display(), dl_error());
        Self {
            handle,
            stem,
            files,
        }
    }

    /// The address of `symbol`; panics if it is missing.
    pub fn symbol(&self, symbol: &str) -> *mut c_void {
        let name = CString::new(symbol).expect("a symbol name without NUL");
        // SAFETY: `handle` is a live dlopen handle and `name` is NUL-terminated.
        let addr = unsafe { libc::dlsym(self.handle, name.as_ptr()) };
        assert!(!addr.is_null(), "dlsym {symbol}: {}", dl_error());
        addr
    }

    /// Where the sources and the shared object are (`<stem>.<n>.c`, `<stem>.so`).
    pub fn location(&self) -> String {
        format!("{}.*", self.stem.display())
    }

    /// Deletes the sources and the shared object (the library stays loaded).
    pub fn remove_files(&self) {
        for file in &self.files {
            let _ = std::fs::remove_file(file);
        }
    }
}

fn spawn(cmd: &mut Command) -> std::process::Child {
    match cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => panic!(
            "gcc not found on PATH: the ABI conformance test compiles its C peer with gcc \
             (install gcc; this test must not pass without running)"
        ),
        Err(err) => panic!("cannot run gcc: {err}"),
    }
}

fn check_output(output: &Output, what: &str) {
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let head: Vec<&str> = stderr.lines().take(40).collect();
        panic!("{what} failed ({}):\n{}", output.status, head.join("\n"));
    }
}

fn dl_error() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated message valid until the next dl call
    // on this thread; it is copied at once.
    unsafe {
        let msg = libc::dlerror();
        if msg.is_null() {
            "unknown error".to_owned()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        }
    }
}
