//! Linux: mappings placed within reach of the program's code (see "Placement" in the
//! [pool docs](super)).
//!
//! A mapping is placed with `mmap(hint, .., MAP_FIXED_NOREPLACE)` at the first free
//! candidate of [`candidates`]: right after the previous near mapping (so that mappings pack
//! side by side), else `base - k * STEP` for `k = 1, 2, ...`, else `base + k * STEP`, where
//! `base` is [`reference_address`] rounded down to [`STEP`], and every byte of the mapping
//! stays within [`REACH`] of the reference. Below the image comes first: the brk heap grows
//! upwards from the end of the image, and a mapping above it would cut the heap short (malloc
//! copes, but need not).
//!
//! ```text
//!  reference - REACH                   reference                  reference + REACH
//!  |    <- candidates (k = 2, 1)       |   candidates (k = 1, 2) ->                 |
//!  |   [chunk|chunk|chunk ->]  [chunk->]  [image .text]  [heap ...]     [chunk ->]  |
//!  '-------------------------- rel32 reaches every byte -------------------------'
//!                               RW views (dual mapping): anywhere, typically 0x7f...
//! ```
//!
//! `MAP_FIXED_NOREPLACE` fails with `EEXIST` where something is mapped already; a kernel
//! older than 4.17 ignores the flag and takes the address as a mere hint, so a mapping that
//! did not land on the candidate is unmapped and the next candidate tried. No existing
//! mapping is ever replaced.
//!
//! With dual mapping, the memory is a file that lives only as long as its mappings: a memfd,
//! else (memfd refused, e.g. by a seccomp filter) an unlinked file in /dev/shm, else in the
//! temporary directory. Its RX view is placed near; its RW view goes wherever the kernel
//! likes. A kind of file that the kernel refuses to create or to map executable is not tried
//! again by this process. Single mapping uses anonymous read-write-execute memory with the
//! same placement.
//!
//! Every failure returns `None`, and the pool falls back to jit-allocator2 (anywhere).

use core::ffi::{c_int, CStr};
use core::ptr;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Every byte of a near mapping lies within this distance of [`reference_address`]: 1.5
/// GiB, so that a rel32 displacement from anywhere in an image of up to 512 MiB reaches it.
#[cfg(not(target_arch = "aarch64"))]
const REACH: usize = 1536 << 20;
/// Distance between two walk candidates.
#[cfg(not(target_arch = "aarch64"))]
const STEP: usize = 64 << 20;
/// aarch64: 96 MiB, so that a `B` (±128 MiB) from a thunk reaches every template of an
/// image whose code spans up to 32 MiB (a thunk's branches out of its prologue are `B`s
/// patched per copy: [`crate::thunk::Fixup::Branch26`]).
#[cfg(target_arch = "aarch64")]
const REACH: usize = 96 << 20;
/// Distance between two walk candidates (aarch64): 4 MiB, as many candidates as on x86 in
/// the smaller window. Where the image lies among other mappings (a shared library; any
/// image under qemu-user, which maps the guest executable in the mmap area between thread
/// stacks and the other view of dual mappings) coarse steps would mostly land on taken
/// addresses.
#[cfg(target_arch = "aarch64")]
const STEP: usize = 4 << 20;
/// No candidate starts below this address (`vm.mmap_min_addr` forbids the lowest pages, and
/// the first megabytes are best left to the program).
#[cfg(not(target_arch = "aarch64"))]
const FLOOR: usize = 16 << 20;
/// No candidate starts below this address (aarch64: below the 4 MiB step).
#[cfg(target_arch = "aarch64")]
const FLOOR: usize = 2 << 20;

const _: () = assert!(STEP.is_power_of_two() && REACH % STEP == 0 && FLOOR < STEP);

/// The end of the last near mapping made by this process (0: none yet); the first
/// candidate of the next one. A hint only: a stale value costs one failed `mmap`.
static CURSOR: AtomicUsize = AtomicUsize::new(0);

/// The address that mappings are placed near: a function of closure-ffi's own code.
///
/// Assumption: the thunk templates (monomorphized into the crate that creates the thunk)
/// are linked into the same image as closure-ffi, which is the usual static linking of an
/// executable or a cdylib. A cdylib loaded far from the main executable gets mappings near
/// itself, where its own templates are.
pub(super) fn reference_address() -> usize {
    /// Marks a place in closure-ffi's code; never called.
    #[inline(never)]
    fn in_closure_ffi_code() {}
    in_closure_ffi_code as fn() as usize
}

/// The start addresses to try for a mapping of `len` bytes near `reference`, best first:
/// `cursor` (the end of the previous near mapping), then `base - k * STEP`, then
/// `base + k * STEP` (`k = 1, 2, ...`, `base = reference` rounded down to `STEP`); only those
/// whose every byte lies within `REACH` of `reference` and at or above `FLOOR`.
fn candidates(reference: usize, len: usize, cursor: usize) -> impl Iterator<Item = usize> {
    let base = reference & !(STEP - 1);
    let steps = 1..=REACH / STEP;
    let below = steps
        .clone()
        .filter_map(move |k| base.checked_sub(k * STEP));
    let above = steps.filter_map(move |k| base.checked_add(k * STEP));
    core::iter::once(cursor)
        .chain(below)
        .chain(above)
        .filter(move |&start| within_reach(reference, start, len))
}

/// Whether `start..start + len` lies within `REACH` of `reference` and at or above `FLOOR`.
fn within_reach(reference: usize, start: usize, len: usize) -> bool {
    let Some(end) = start.checked_add(len) else {
        return false;
    };
    start >= FLOOR
        && start >= reference.saturating_sub(REACH)
        && end <= reference.saturating_add(REACH)
}

/// Why [`place`] found no address.
enum PlaceError {
    /// Every candidate is taken.
    NoRoom,
    /// The kernel refuses this mapping anywhere (e.g. `PROT_EXEC` of a file on a `noexec`
    /// mount).
    Refused(io::Error),
}

/// Maps `len` bytes (`mmap(.., prot, flags, fd, 0)`) at the first free candidate near the
/// reference address.
///
/// Threads that map at the same time race for the same cursor; the loser tries again right
/// after the winner's mapping (the cursor it published), a few times, before it walks the
/// step candidates: otherwise every lost race would start a new run of mappings at the next
/// step, and a small window (aarch64: 96 MiB) would run out of fresh steps.
fn place(len: usize, prot: c_int, flags: c_int, fd: c_int) -> Result<*mut u8, PlaceError> {
    const CURSOR_RETRIES: usize = 8;
    let reference = reference_address();
    let mut cursor = CURSOR.load(Ordering::Relaxed);
    for _ in 0..CURSOR_RETRIES {
        if !within_reach(reference, cursor, len) {
            break;
        }
        if let Some(addr) = map_at(cursor, len, prot, flags, fd)? {
            return Ok(addr);
        }
        let now = CURSOR.load(Ordering::Relaxed);
        if now == cursor {
            break;
        }
        cursor = now;
    }
    // The step candidates only (cursor 0 lies below FLOOR and is filtered out).
    for start in candidates(reference, len, 0) {
        if let Some(addr) = map_at(start, len, prot, flags, fd)? {
            return Ok(addr);
        }
    }
    Err(PlaceError::NoRoom)
}

/// Maps `len` bytes exactly at `start` and advances the cursor past them; `None` if the place
/// is taken (or the kernel put the mapping elsewhere, which is undone).
fn map_at(
    start: usize,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
) -> Result<Option<*mut u8>, PlaceError> {
    let hint = ptr::without_provenance_mut(start);
    // SAFETY: with `MAP_FIXED_NOREPLACE` (or, on kernels that ignore it, as a plain
    // hint) `mmap` creates a new mapping or fails; it never replaces or touches an
    // existing one, so no memory of the program changes.
    let addr = unsafe { libc::mmap(hint, len, prot, flags | libc::MAP_FIXED_NOREPLACE, fd, 0) };
    if addr == libc::MAP_FAILED {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            // Taken, or beyond the address space (i686): try the next one.
            Some(libc::EEXIST | libc::ENOMEM) => Ok(None),
            _ => Err(PlaceError::Refused(err)),
        };
    }
    if addr.addr() == start {
        CURSOR.store(start + len, Ordering::Relaxed);
        return Ok(Some(addr.cast()));
    }
    // SAFETY: a kernel that ignores `MAP_FIXED_NOREPLACE` put the new mapping elsewhere;
    // it is `len` bytes at `addr`, and no one else knows of it.
    unsafe { libc::munmap(addr, len) };
    Ok(None)
}

/// A kind of file that backs a dual mapping, in order of preference.
#[derive(Clone, Copy)]
enum SharedFile {
    Memfd = 0,
    DevShm = 1,
    TempDir = 2,
}

/// Bit `1 << kind` is set once the kernel has refused that kind of [`SharedFile`].
static REFUSED: AtomicU8 = AtomicU8::new(0);

impl SharedFile {
    const ALL: [SharedFile; 3] = [Self::Memfd, Self::DevShm, Self::TempDir];

    fn bit(self) -> u8 {
        1 << self as u8
    }

    fn is_refused(self) -> bool {
        REFUSED.load(Ordering::Relaxed) & self.bit() != 0
    }

    /// Stops trying this kind if `err` will not go away by itself.
    fn refuse_if_lasting(self, err: &io::Error) {
        let passing = matches!(
            err.raw_os_error(),
            Some(
                libc::EINTR
                    | libc::EAGAIN
                    | libc::EMFILE
                    | libc::ENFILE
                    | libc::ENOMEM
                    | libc::ENOSPC
            )
        );
        if !passing {
            REFUSED.fetch_or(self.bit(), Ordering::Relaxed);
        }
    }

    /// Creates a file of this kind, `len` bytes long, that no directory links to.
    fn create(self, len: usize) -> io::Result<File> {
        let file = match self {
            Self::Memfd => memfd()?,
            Self::DevShm => unlinked_file(Path::new("/dev/shm"))?,
            Self::TempDir => unlinked_file(&std::env::temp_dir())?,
        };
        let len = u64::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        file.set_len(len)?;
        Ok(file)
    }
}

/// `memfd_create`, through `syscall` so that no glibc version is required.
fn memfd() -> io::Result<File> {
    const NAME: &CStr = c"closure-ffi-jit";
    // Not executable as a program (the mapping still may be), which also keeps kernels with
    // `vm.memfd_noexec = 2` happy; kernels before 6.3 reject the flag with `EINVAL`.
    let mut flags = libc::MFD_CLOEXEC | libc::MFD_NOEXEC_SEAL;
    loop {
        // SAFETY: `memfd_create(name, flags)` reads the NUL-terminated `NAME` and returns a
        // new file descriptor or -1; it touches no other memory.
        let fd = unsafe { libc::syscall(libc::SYS_memfd_create, NAME.as_ptr(), flags) };
        if let Ok(fd @ 0..) = c_int::try_from(fd) {
            // SAFETY: `fd` is a new open file descriptor that nothing else owns.
            return Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::EINVAL) && flags != libc::MFD_CLOEXEC {
            flags = libc::MFD_CLOEXEC;
            continue;
        }
        return Err(err);
    }
}

/// A new file in `dir` without a name: `O_TMPFILE`, else (a file system without it)
/// [`named_then_unlinked_file`].
fn unlinked_file(dir: &Path) -> io::Result<File> {
    let tmpfile = OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(dir);
    match tmpfile {
        Err(err) if matches!(err.raw_os_error(), Some(libc::EOPNOTSUPP | libc::EISDIR)) => {
            named_then_unlinked_file(dir)
        }
        tmpfile => tmpfile,
    }
}

/// A new file in `dir` of a unique name (`O_EXCL`, mode 0600), unlinked at once.
fn named_then_unlinked_file(dir: &Path) -> io::Result<File> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let mut options = OpenOptions::new();
    options
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW);
    for _ in 0..16 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("closure-ffi-jit-{}-{n}", std::process::id()));
        match options.open(&path) {
            Ok(file) => {
                std::fs::remove_file(&path)?;
                return Ok(file);
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(io::ErrorKind::AlreadyExists.into())
}

/// Memory mapped near the program's code: both views of it and its length.
pub(super) struct NearMapping {
    rx: *const u8,
    rw: *mut u8,
    len: usize,
}

impl NearMapping {
    /// Maps `len` bytes (a whole number of pages) near the reference address: an RX view and
    /// a separate RW view of the same memory if `dual`, else one RWX view. `None` if no
    /// candidate is free or the kernel refuses.
    pub(super) fn map(len: usize, dual: bool) -> Option<Self> {
        // SAFETY: `sysconf` only reads system configuration.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = usize::try_from(page).ok().filter(|&page| page != 0)?;
        if len == 0 || len % page != 0 {
            return None;
        }
        if !dual {
            let prot = libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC;
            let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
            let rwx = place(len, prot, flags, -1).ok()?;
            return Some(NearMapping {
                rx: rwx,
                rw: rwx,
                len,
            });
        }
        for kind in SharedFile::ALL {
            if kind.is_refused() {
                continue;
            }
            let file = match kind.create(len) {
                Ok(file) => file,
                Err(err) => {
                    kind.refuse_if_lasting(&err);
                    continue;
                }
            };
            let fd = file.as_raw_fd();
            let rx = match place(len, libc::PROT_READ | libc::PROT_EXEC, libc::MAP_SHARED, fd) {
                Ok(rx) => rx,
                Err(PlaceError::NoRoom) => return None,
                Err(PlaceError::Refused(err)) => {
                    kind.refuse_if_lasting(&err);
                    continue;
                }
            };
            let prot = libc::PROT_READ | libc::PROT_WRITE;
            // SAFETY: a new mapping of `file` wherever the kernel likes (no hint, no
            // `MAP_FIXED`): no existing mapping is touched.
            let rw = unsafe { libc::mmap(ptr::null_mut(), len, prot, libc::MAP_SHARED, fd, 0) };
            if rw == libc::MAP_FAILED {
                // SAFETY: `rx` is the mapping of `len` bytes made above, known to no one else.
                unsafe { libc::munmap(rx.cast(), len) };
                return None;
            }
            // `file` is closed here; its memory lives on in the two mappings.
            return Some(NearMapping {
                rx,
                rw: rw.cast(),
                len,
            });
        }
        None
    }

    /// The executable view.
    pub(super) fn rx(&self) -> *const u8 {
        self.rx
    }

    /// The writable view (`== rx` for a single mapping).
    pub(super) fn rw(&self) -> *mut u8 {
        self.rw
    }

    /// Unmaps both views.
    ///
    /// # Safety
    /// No one may use the memory afterwards.
    pub(super) unsafe fn unmap(self) {
        // SAFETY: `rx` and `rw` are mappings of `len` bytes made by `map` and owned by
        // `self`; by the caller's contract no one uses them any more. An error leaves the
        // mapping in place: a leak, not unsoundness.
        unsafe {
            libc::munmap(self.rx.cast_mut().cast(), self.len);
            if self.rw.cast_const() != self.rx {
                libc::munmap(self.rw.cast(), self.len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    /// Candidate order and window arithmetic (host-independent).
    #[test]
    fn candidate_order() {
        // A reference 3 MiB into a step, well inside the address space.
        let reference = 30 * STEP + 3 * MIB;
        let base = 30 * STEP;
        let len = 64 * 1024;
        let got: Vec<usize> = candidates(reference, len, base - 5 * MIB).collect();
        assert_eq!(got.first(), Some(&(base - 5 * MIB)), "cursor first");
        let n = REACH / STEP;
        let below: Vec<usize> = (1..=n).map(|k| base - k * STEP).collect();
        // `base - n * STEP` is 3 MiB further than REACH: left out.
        assert_eq!(got[1..n], below[..n - 1]);
        // `base + n * STEP + len` is still within REACH (3 MiB to spare).
        let above: Vec<usize> = (1..=n).map(|k| base + k * STEP).collect();
        assert_eq!(got[n..], above[..]);
        assert!(got.iter().all(|&c| within_reach(reference, c, len)));
        assert!(got.iter().all(|&c| c.abs_diff(reference) < REACH));

        // No cursor yet (0 is below FLOOR); near the bottom of the address space the walk
        // stops at FLOOR; at the top it stops where the address space ends.
        let low: Vec<usize> = candidates(2 * STEP, len, 0).collect();
        assert_eq!(low[..2], [STEP, 3 * STEP]);
        let top = usize::MAX & !(STEP - 1);
        let high: Vec<usize> = candidates(top, len, 0).take(2).collect();
        assert_eq!(high, [top - STEP, top - 2 * STEP]);
        assert!(candidates(usize::MAX, len, 0).all(|c| c.checked_add(len).is_some()));

        // A cursor whose mapping would end beyond REACH is skipped.
        let far = reference + REACH - len + 1;
        assert_ne!(candidates(reference, len, far).next(), Some(far));
        assert!(!within_reach(reference, usize::MAX - 10, len));
        assert!(!within_reach(reference, FLOOR - 4096, len));
    }

    /// Every kind of backing file (and the named fallback) is created with the right length
    /// and linked from no directory.
    #[test]
    fn shared_files_are_unlinked() {
        use std::os::unix::fs::MetadataExt;

        let len = 64 * 1024;
        for kind in SharedFile::ALL {
            let file = kind.create(len).expect("create");
            let meta = file.metadata().expect("metadata");
            assert_eq!((meta.len(), meta.nlink()), (len as u64, 0));
        }
        let file = named_then_unlinked_file(&std::env::temp_dir()).expect("create");
        assert_eq!(file.metadata().expect("metadata").nlink(), 0);
    }

    #[test]
    fn maps_near_and_unmaps() {
        let reference = reference_address();
        for dual in [true, false] {
            let mapping = NearMapping::map(64 * 1024, dual).expect("near mapping");
            assert_eq!(mapping.rx() == mapping.rw().cast_const(), !dual);
            let rx = mapping.rx().addr();
            assert!(rx.abs_diff(reference) < REACH, "{rx:#x} vs {reference:#x}");
            // SAFETY: the mapping is fresh, writable through `rw` and readable through `rx`,
            // which are views of the same memory.
            unsafe {
                mapping.rw().add(100).write(0x5A);
                assert_eq!(mapping.rx().add(100).read_volatile(), 0x5A);
                mapping.unmap();
            }
        }
        assert!(NearMapping::map(100, true).is_none(), "not a whole page");
        assert!(NearMapping::map(0, false).is_none());
    }
}
