//! Compiling the C peer with gcc and loading it (`dlopen`, or `LoadLibraryW` on Windows).
//!
//! Under wine, a Windows program cannot wait for the Unix gcc it starts (wine returns no
//! process handle), so there the test hands the compilation to `scripts/cc-server`, which
//! `scripts/test-windows` runs next to it: the test writes a request file into the
//! directory `ABI_FUZZ_CC_SERVER` names and waits for the answer (see [`server`]). On a
//! real Windows machine with mingw-w64's gcc on PATH, leave the variable unset.

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread;

/// gcc flags that select the target of the test binary (the host gcc is x86_64).
const TARGET_FLAGS: &[&str] = if cfg!(target_arch = "x86") {
    &["-m32"]
} else {
    &[]
};

/// gcc flags for the objects of a shared library (PE code needs none).
const PIC_FLAGS: &[&str] = if cfg!(windows) { &[] } else { &["-fPIC"] };

/// gcc flags for linking the peer: on i686 Windows, exports without stdcall's and
/// fastcall's decorations (`f_0@8`), so that `GetProcAddress("f_0")` finds every callee.
/// gcc ignores them when it only compiles.
const LINK_FLAGS: &[&str] = if cfg!(all(target_arch = "x86", windows)) {
    &["-Wl,--kill-at"]
} else {
    &[]
};

/// gcc flags for every C peer object (also sent to the compile server).
const COMPILE_FLAGS: &[&str] = &["-O1", "-Wno-psabi"];

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

/// The shared library's extension.
const LIB_EXT: &str = if cfg!(windows) { "dll" } else { "so" };

/// A shared library built from generated C sources and loaded into the process.
pub struct Library {
    handle: *mut c_void,
    stem: PathBuf,
    files: Vec<PathBuf>,
}

impl Library {
    /// Writes `sources` (plus `support`) next to each other under the test's temporary
    /// directory, compiles them in parallel with `gcc -O1`, links them into one shared
    /// object and loads it. Panics with gcc's diagnostics if that fails, and if gcc is
    /// missing: this test must not pass without running.
    pub fn build(name: &str, support: &str, sources: &[String]) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("abi_conformance");
        std::fs::create_dir_all(&dir).expect("create the temporary directory");
        let stem = dir.join(format!("{name}-{}", std::process::id()));
        let mut files = Vec::new();
        for (k, text) in std::iter::once(support)
            .chain(sources.iter().map(String::as_str))
            .enumerate()
        {
            let c = stem.with_extension(format!("{k}.c"));
            std::fs::write(&c, text).expect("write a C source");
            files.push(c);
        }
        let lib = stem.with_extension(LIB_EXT);
        match server::directory() {
            Some(requests) => server::compile(&requests, &files, &lib),
            None => compile(&files, &lib),
        }
        files.push(lib.clone());
        let handle = os::open(&lib);
        Self {
            handle,
            stem,
            files,
        }
    }

    /// The address of `symbol`; panics if it is missing.
    pub fn symbol(&self, symbol: &str) -> *mut c_void {
        os::symbol(self.handle, symbol)
    }

    /// Where the sources and the shared object are (`<stem>.<n>.c`, `<stem>.so`/`.dll`).
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

/// Compiles `sources` with [`GCC`] in parallel and links them into `lib`.
fn compile(sources: &[PathBuf], lib: &Path) {
    let objects: Vec<PathBuf> = sources.iter().map(|c| c.with_extension("o")).collect();
    let jobs = thread::available_parallelism().map_or(2, |n| n.get());
    for batch in sources
        .iter()
        .zip(&objects)
        .collect::<Vec<_>>()
        .chunks(jobs)
    {
        let children: Vec<_> = batch
            .iter()
            .map(|(c, o)| {
                let mut cmd = Command::new(GCC);
                cmd.args(TARGET_FLAGS)
                    .args(PIC_FLAGS)
                    .args(COMPILE_FLAGS)
                    .args(["-c", "-o"])
                    .arg(o)
                    .arg(c);
                (spawn(&mut cmd), c)
            })
            .collect();
        for (child, c) in children {
            let output = child.wait_with_output().expect("wait for gcc");
            check_output(&output, &format!("gcc -O1 -c {}", c.display()));
        }
    }
    let mut link = Command::new(GCC);
    link.args(TARGET_FLAGS)
        .args(LINK_FLAGS)
        .args(["-shared", "-o"])
        .arg(lib)
        .args(&objects);
    let output = spawn(&mut link).wait_with_output().expect("wait for gcc");
    check_output(&output, "gcc -shared (link)");
    for object in &objects {
        let _ = std::fs::remove_file(object);
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

/// The compile server's protocol (`scripts/cc-server` is the other side).
///
/// A request is a file `<name>.request` in the server's directory: its first line is the
/// library to make, its second the gcc flags for compiling and linking ([`COMPILE_FLAGS`],
/// [`LINK_FLAGS`] and the target's),
/// the others the C sources, one path a line. It is written under another name and
/// renamed, so the server never reads half of one; the server deletes it when it takes it.
/// The server compiles the sources with the target's gcc and those flags, links them (with
/// the flags again),
/// writes gcc's output to `<name>.log` and then, by rename again, the exit status to
/// `<name>.status`.
mod server {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    /// How long a request may wait before a server takes it: the server looks every 0.2 s.
    const PICKUP: Duration = Duration::from_secs(30);

    /// How long to wait for the answer once the server has the request: a 3000-signature
    /// peer compiles in about 30 s on two cores; this only keeps a stuck server from
    /// hanging the test (under scripts/test-windows' 600 s limit, so its message shows).
    const PATIENCE: Duration = Duration::from_secs(500);

    /// The directory `ABI_FUZZ_CC_SERVER` names, if it is set.
    pub fn directory() -> Option<PathBuf> {
        std::env::var_os("ABI_FUZZ_CC_SERVER")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    }

    pub fn compile(requests: &Path, sources: &[PathBuf], lib: &Path) {
        let name = lib
            .file_stem()
            .expect("the library has a name")
            .to_string_lossy()
            .into_owned();
        let flags: Vec<&str> = super::TARGET_FLAGS
            .iter()
            .chain(super::PIC_FLAGS)
            .chain(super::COMPILE_FLAGS)
            .chain(super::LINK_FLAGS)
            .copied()
            .collect();
        let mut text = format!("{}\n{}\n", lib.display(), flags.join(" "));
        for c in sources {
            text.push_str(&format!("{}\n", c.display()));
        }
        let request = requests.join(format!("{name}.request"));
        let partial = requests.join(format!("{name}.partial"));
        let status = requests.join(format!("{name}.status"));
        let log = requests.join(format!("{name}.log"));
        // An earlier process with the same id may have left its answer behind.
        let _ = std::fs::remove_file(&status);
        let _ = std::fs::remove_file(&log);
        std::fs::create_dir_all(requests).expect("create the compile server's directory");
        std::fs::write(&partial, text).expect("write the compile request");
        std::fs::rename(&partial, &request).expect("post the compile request");
        let start = Instant::now();
        let code = loop {
            if let Ok(text) = std::fs::read_to_string(&status) {
                break text.trim().to_owned();
            }
            let waited = start.elapsed();
            assert!(
                waited < PICKUP || !request.exists(),
                "no compile server took {} in {} s: is scripts/cc-server running on that \
                 directory (ABI_FUZZ_CC_SERVER)?",
                request.display(),
                PICKUP.as_secs()
            );
            assert!(
                waited < PATIENCE,
                "no answer from the compile server in {} s to {}",
                PATIENCE.as_secs(),
                request.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&status);
        let _ = std::fs::remove_file(&log);
        let head: Vec<&str> = output.lines().take(40).collect();
        assert_eq!(
            code,
            "0",
            "the compile server's gcc failed:\n{}",
            head.join("\n")
        );
    }
}

#[cfg(unix)]
mod os {
    use std::ffi::{c_void, CStr, CString};
    use std::path::Path;

    pub fn open(lib: &Path) -> *mut c_void {
        let path = CString::new(lib.as_os_str().as_encoded_bytes()).expect("a path without NUL");
        // SAFETY: `path` is a NUL-terminated path to a library we just built; its only
        // initialisers are gcc's defaults.
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(!handle.is_null(), "dlopen {}: {}", lib.display(), error());
        handle
    }

    pub fn symbol(handle: *mut c_void, symbol: &str) -> *mut c_void {
        let name = CString::new(symbol).expect("a symbol name without NUL");
        // SAFETY: `handle` is a live dlopen handle and `name` is NUL-terminated.
        let addr = unsafe { libc::dlsym(handle, name.as_ptr()) };
        assert!(!addr.is_null(), "dlsym {symbol}: {}", error());
        addr
    }

    fn error() -> String {
        // SAFETY: dlerror returns null or a NUL-terminated message valid until the next dl
        // call on this thread; it is copied at once.
        unsafe {
            let msg = libc::dlerror();
            if msg.is_null() {
                "unknown error".to_owned()
            } else {
                CStr::from_ptr(msg).to_string_lossy().into_owned()
            }
        }
    }
}

#[cfg(windows)]
mod os {
    use std::ffi::{c_char, c_void, CString};
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;

    #[link(name = "kernel32")]
    extern "system" {
        fn LoadLibraryW(name: *const u16) -> *mut c_void;
        fn GetProcAddress(module: *mut c_void, name: *const c_char) -> *mut c_void;
        fn GetLastError() -> u32;
    }

    pub fn open(lib: &Path) -> *mut c_void {
        // LoadLibraryW wants backslashes (the directory comes from cargo with slashes).
        let wide: Vec<u16> = lib
            .as_os_str()
            .encode_wide()
            .map(|c| {
                if c == u16::from(b'/') {
                    u16::from(b'\\')
                } else {
                    c
                }
            })
            .chain([0])
            .collect();
        // SAFETY: `wide` is a NUL-terminated path to a library we just built; its only
        // initialisers are mingw's defaults.
        let handle = unsafe { LoadLibraryW(wide.as_ptr()) };
        if handle.is_null() {
            panic!("LoadLibraryW {}: error {}", lib.display(), last_error());
        }
        handle
    }

    pub fn symbol(handle: *mut c_void, symbol: &str) -> *mut c_void {
        let name = CString::new(symbol).expect("a symbol name without NUL");
        // SAFETY: `handle` is a live module handle and `name` is NUL-terminated.
        let addr = unsafe { GetProcAddress(handle, name.as_ptr()) };
        if addr.is_null() {
            panic!("GetProcAddress {symbol}: error {}", last_error());
        }
        addr
    }

    /// The calling thread's last Windows error code.
    fn last_error() -> u32 {
        // SAFETY: GetLastError has no preconditions.
        unsafe { GetLastError() }
    }
}
