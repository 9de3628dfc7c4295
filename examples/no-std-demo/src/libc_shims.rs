//! The few C library functions Capstone's C code links against, which a bare-metal program
//! must provide (on a hosted target, libc does). Memory comes from the Rust global
//! allocator; `vsnprintf` only has to exist (closure-ffi never reads Capstone's text
//! output), so it produces an empty string.

use core::alloc::Layout;
use core::ffi::{c_char, c_int, c_void};

/// Bytes in front of every block, holding its size (keeps 16-byte alignment).
const HEADER: usize = 16;

fn layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(HEADER)?, 16).ok()
}

#[unsafe(no_mangle)]
extern "C" fn malloc(size: usize) -> *mut c_void {
    let Some(layout) = layout(size) else {
        return core::ptr::null_mut();
    };
    // SAFETY: non-zero size (HEADER > 0).
    let base = unsafe { alloc::alloc::alloc(layout) };
    if base.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: `base` has room for the header, aligned to 16.
    unsafe {
        base.cast::<usize>().write(size);
        base.add(HEADER).cast()
    }
}

#[unsafe(no_mangle)]
extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    let Some(total) = count.checked_mul(size) else {
        return core::ptr::null_mut();
    };
    let p = malloc(total);
    if !p.is_null() {
        // SAFETY: `p` holds `total` bytes.
        unsafe { core::ptr::write_bytes(p.cast::<u8>(), 0, total) };
    }
    p
}

#[unsafe(no_mangle)]
unsafe extern "C" fn free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: `p` came from `malloc`: the size header precedes it.
    unsafe {
        let base = p.cast::<u8>().sub(HEADER);
        let size = base.cast::<usize>().read();
        if let Some(layout) = layout(size) {
            alloc::alloc::dealloc(base, layout);
        }
    }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    if p.is_null() {
        return malloc(size);
    }
    let new = malloc(size);
    if !new.is_null() {
        // SAFETY: `p` came from `malloc` (size header in front); copy the common prefix.
        unsafe {
            let old = p.cast::<u8>().sub(HEADER).cast::<usize>().read();
            core::ptr::copy_nonoverlapping(p.cast::<u8>(), new.cast::<u8>(), old.min(size));
            free(p);
        }
    }
    new
}

#[unsafe(no_mangle)]
unsafe extern "C" fn vsnprintf(
    buf: *mut c_char,
    size: usize,
    _fmt: *const c_char,
    _args: *mut c_void,
) -> c_int {
    if size > 0 && !buf.is_null() {
        // SAFETY: the caller gives a buffer of `size` bytes.
        unsafe { buf.write(0) };
    }
    0
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strcpy(dst: *mut c_char, src: *const c_char) -> *mut c_char {
    let mut i = 0;
    // SAFETY: C contract: `src` is NUL-terminated and `dst` large enough.
    unsafe {
        loop {
            let c = src.add(i).read();
            dst.add(i).write(c);
            if c == 0 {
                return dst;
            }
            i += 1;
        }
    }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strncpy(dst: *mut c_char, src: *const c_char, n: usize) -> *mut c_char {
    let mut end = false;
    for i in 0..n {
        // SAFETY: C contract: `dst` has `n` bytes; `src` is read up to its NUL.
        unsafe {
            let c = if end { 0 } else { src.add(i).read() };
            end |= c == 0;
            dst.add(i).write(c);
        }
    }
    dst
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strcat(dst: *mut c_char, src: *const c_char) -> *mut c_char {
    // SAFETY: C contract: `dst` is NUL-terminated with room for `src`.
    unsafe {
        let mut len = 0;
        while dst.add(len).read() != 0 {
            len += 1;
        }
        strcpy(dst.add(len), src);
    }
    dst
}

/// Capstone's AArch64 tables look names up with it (linked since closure-ffi enables the
/// arm64 decoder on every host, for its host-independent aarch64 relocator).
#[unsafe(no_mangle)]
unsafe extern "C" fn strcmp(a: *const c_char, b: *const c_char) -> c_int {
    // SAFETY: C contract: both strings are NUL-terminated.
    unsafe {
        let mut i = 0;
        loop {
            let (x, y) = (a.add(i).cast::<u8>().read(), b.add(i).cast::<u8>().read());
            if x != y || x == 0 {
                return c_int::from(x) - c_int::from(y);
            }
            i += 1;
        }
    }
}

/// Capstone's 32-bit Arm decoder uses it (linked since closure-ffi enables the arm decoder
/// on every host, for its host-independent A32/T32 relocator).
#[unsafe(no_mangle)]
unsafe extern "C" fn strncmp(a: *const c_char, b: *const c_char, n: usize) -> c_int {
    // SAFETY: C contract: both strings are NUL-terminated or at least `n` bytes long.
    unsafe {
        for i in 0..n {
            let (x, y) = (a.add(i).cast::<u8>().read(), b.add(i).cast::<u8>().read());
            if x != y || x == 0 {
                return c_int::from(x) - c_int::from(y);
            }
        }
        0
    }
}

/// Capstone's 32-bit Arm decoder uses it (see [`strncmp`]).
#[unsafe(no_mangle)]
unsafe extern "C" fn strrchr(s: *const c_char, c: c_int) -> *mut c_char {
    let c = c as u8;
    let mut found = core::ptr::null_mut();
    // SAFETY: C contract: `s` is NUL-terminated; the terminator itself may be searched for.
    unsafe {
        let mut i = 0;
        loop {
            let x = s.add(i).cast::<u8>().read();
            if x == c {
                found = s.add(i).cast_mut();
            }
            if x == 0 {
                return found;
            }
            i += 1;
        }
    }
}

#[unsafe(no_mangle)]
extern "C" fn __assert_fail(
    _expr: *const c_char,
    _file: *const c_char,
    _line: u32,
    _func: *const c_char,
) -> ! {
    panic!("assertion failed in Capstone")
}
