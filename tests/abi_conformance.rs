//! Randomized ABI conformance of the dynamic layer against gcc.
//!
//! Each test generates random signatures for one ABI, against the target's gcc:
//! - x86_64 Linux: System V, and Win64 as gcc's `ms_abi`;
//! - x86_64 Windows: Win64, compiled with mingw-w64's gcc (under wine, through
//!   `scripts/cc-server`);
//! - i686 Windows: ms_cdecl (the C convention there), stdcall, fastcall and thiscall, the
//!   same way (i386 System V is not gcc's on Windows);
//! - i386 (`gcc -m32`): System V, stdcall, fastcall, thiscall and ms_cdecl as gcc's
//!   `ms_abi`, without `__int128`, variadic for the caller-pops ones only;
//! - aarch64: AAPCS64, compiled with `aarch64-linux-gnu-gcc`, which the test binary starts
//!   from under qemu-user;
//! - 32-bit Arm: the VFP variant of AAPCS (gnueabihf's default) and the base standard as
//!   gcc's `pcs("aapcs")`, compiled with `arm-linux-gnueabihf-gcc` (Thumb-2 code, which A32
//!   and T32 callers interwork with), without `__int128`, variadic signatures in the base
//!   standard as C does for `...`.
//!
//! Up to 20 arguments of every integer width, `float`, `double`, `long double`, pointers,
//! complex types, and structs and unions with nested aggregates, arrays, odd
//! sizes and raised alignments; one in eight is variadic. Generated C, compiled by gcc -O1
//! into one shared object, holds per signature a callee `f_i` that checks its arguments and
//! returns a baked value, and a caller `call_i` that passes baked arguments to a function
//! pointer and checks its result. The Rust side then
//!
//! 1. calls `f_i` through [`Cif::call_raw`] and checks the result (the significant bytes,
//!    the widening of narrow integers, no write past the buffer) and that the callee saw
//!    the right arguments;
//! 2. passes a [`Closure`] with the same Cif to `call_i` and checks the arguments the
//!    closure receives and that the C caller gets the closure's result.
//!
//! Only significant bytes are compared: never padding, 10 of an x87 `long double`'s 16
//! bytes (all 16 of aarch64's binary128, all 8 of 32-bit Arm's, a `double`), one member of a
//! union. gcc also checks the library's layout of every aggregate
//! (`_Static_assert`).
//!
//! Environment: `ABI_FUZZ_SEED` (decimal or `0x` hex), `ABI_FUZZ_COUNT` (signatures per
//! ABI), `ABI_FUZZ_ONLY` (run only that signature index, to reproduce a failure),
//! `ABI_FUZZ_KEEP` (keep the generated C files of a passing run), `ABI_FUZZ_TRACE` (print
//! each signature before running it: finds the one that crashes the process).
//! `scripts/abi-fuzz` runs many seeds in release mode.

// The Arm base standard's callers call through `pcs("aapcs")` function pointers, which
// arm-linux-gnueabihf-gcc 12.2 honours in the declarator (`vmov r0, r1, d0; blx`).
//
// On x86_64 Windows (mingw-w64, run under wine) only Win64, the native convention, is
// checked: the System V peer would need `sysv_abi` callers (mingw-w64 gcc 12 crashes with an
// internal compiler error on ms_abi code calling sysv_abi functions with __int128
// arguments), the System V va_list named explicitly, and no `va_arg` of values over 8 bytes
// in the non-native convention; System V's classifier and executor are the ones Linux
// checks. Under wine the peer is compiled by scripts/cc-server (see abi_conformance/native.rs).
#![cfg(any(
    all(
        any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "aarch64",
            target_arch = "arm"
        ),
        target_os = "linux"
    ),
    all(any(target_arch = "x86_64", target_arch = "x86"), windows)
))]

#[path = "abi_conformance/c_source.rs"]
mod c_source;
#[path = "abi_conformance/native.rs"]
mod native;
#[path = "abi_conformance/rng.rs"]
mod rng;
#[path = "abi_conformance/signature.rs"]
mod signature;

use std::cell::{Cell, RefCell};
use std::ffi::c_void;

use closure_ffi::dynamic::{Abi, Args, Cif, Closure, CodePtr, Ret};

use c_source::FAIL_BYTES;
use native::Library;
use signature::Signature;

/// The seed when `ABI_FUZZ_SEED` is not set.
const DEFAULT_SEED: u64 = 0x00C1_05ED_AB1C_0DE5;
/// Signatures per ABI when `ABI_FUZZ_COUNT` is not set.
const DEFAULT_COUNT: usize = 1200;
/// Signatures per C source file (the files compile in parallel).
const SIGS_PER_FILE: usize = 50;
/// Failures printed in full.
const MAX_REPORTED: usize = 20;
/// Canary bytes after the return buffer, which a call must not touch.
const CANARY: u8 = 0xA5;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
#[test]
fn sysv64() {
    run(Abi::SysV64, "sysv64");
}

#[cfg(target_arch = "x86_64")]
#[test]
fn win64() {
    run(Abi::Win64, "win64");
}

#[cfg(target_arch = "aarch64")]
#[test]
fn aapcs64() {
    run(Abi::Aapcs64, "aapcs64");
}

#[cfg(target_arch = "arm")]
#[test]
fn arm_vfp() {
    run(Abi::Vfp, "arm_vfp");
}

#[cfg(target_arch = "arm")]
#[test]
fn arm_aapcs() {
    run(Abi::Aapcs, "arm_aapcs");
}

#[cfg(all(target_arch = "x86", not(windows)))]
#[test]
fn i386_sysv() {
    run(Abi::SysV, "i386_sysv");
}

#[cfg(target_arch = "x86")]
#[test]
fn i386_stdcall() {
    run(Abi::StdCall, "i386_stdcall");
}

#[cfg(target_arch = "x86")]
#[test]
fn i386_fastcall() {
    run(Abi::FastCall, "i386_fastcall");
}

#[cfg(target_arch = "x86")]
#[test]
fn i386_thiscall() {
    run(Abi::ThisCall, "i386_thiscall");
}

#[cfg(target_arch = "x86")]
#[test]
fn i386_ms_cdecl() {
    run(Abi::MsCdecl, "i386_ms_cdecl");
}

struct Config {
    seed: u64,
    count: usize,
    only: Option<usize>,
    keep: bool,
    trace: bool,
}

impl Config {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let parse = |name: &str, text: String| -> u64 {
            let parsed = match text.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => text.parse(),
            };
            parsed.unwrap_or_else(|_| panic!("{name}={text:?} is not a number"))
        };
        Self {
            seed: var("ABI_FUZZ_SEED").map_or(DEFAULT_SEED, |v| parse("ABI_FUZZ_SEED", v)),
            count: var("ABI_FUZZ_COUNT")
                .map_or(DEFAULT_COUNT, |v| parse("ABI_FUZZ_COUNT", v) as usize),
            only: var("ABI_FUZZ_ONLY").map(|v| parse("ABI_FUZZ_ONLY", v) as usize),
            keep: var("ABI_FUZZ_KEEP").is_some(),
            trace: var("ABI_FUZZ_TRACE").is_some(),
        }
    }
}

/// The C side's record of the first mismatch it saw.
struct CFailures {
    count: *mut i32,
    sig: *const i32,
    arg: *const i32,
    len: *const u32,
    got: *const u8,
}

impl CFailures {
    fn new(lib: &Library) -> Self {
        Self {
            count: lib.symbol("g_fail_count").cast(),
            sig: lib.symbol("g_fail_sig").cast(),
            arg: lib.symbol("g_fail_arg").cast(),
            len: lib.symbol("g_fail_len").cast(),
            got: lib.symbol("g_fail_got").cast(),
        }
    }

    fn reset(&self) {
        // SAFETY: `count` is the library's `int g_fail_count`; only this thread runs the
        // library's code.
        unsafe { self.count.write(0) };
    }

    /// A description of the first mismatch since [`reset`](Self::reset), if any.
    fn take(&self, sig: &Signature) -> Option<String> {
        // SAFETY: the globals of the library (see `new`), written only by C code this
        // thread called; `got` has FAIL_BYTES bytes of which `len` are set.
        let (count, at_sig, arg, got) = unsafe {
            let count = self.count.read();
            if count == 0 {
                return None;
            }
            let len = (self.len.read() as usize).min(FAIL_BYTES);
            let got = std::slice::from_raw_parts(self.got, len).to_vec();
            (count, self.sig.read(), self.arg.read(), got)
        };
        let (what, want) = match usize::try_from(arg) {
            Ok(arg) => (format!("argument {arg}"), sig.arg_values.get(arg)),
            Err(_) => ("the return value".to_owned(), sig.ret_value.as_ref()),
        };
        let detail = match want {
            Some(want) if at_sig as usize == sig.index && got.len() == want.bytes.len() => {
                format!(
                    "\n      want{}\n      got {}",
                    want.show(&want.bytes),
                    want.show(&got)
                )
            }
            _ => String::new(),
        };
        Some(format!(
            "C saw {count} mismatch(es); first: signature {at_sig}, {what}{detail}"
        ))
    }
}

/// Bytes kept 16-aligned.
struct Aligned(Vec<u128>);

impl Aligned {
    fn new(len: usize, fill: u8) -> Self {
        Self(vec![u128::from_ne_bytes([fill; 16]); len.div_ceil(16)])
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: a u128 slice viewed as its bytes.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast(), self.0.len() * 16) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: a u128 slice viewed as its bytes (u8 has no invalid values).
        unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast(), self.0.len() * 16) }
    }
}

fn run(abi: Abi, name: &str) {
    let config = Config::from_env();
    let indices = match config.only {
        Some(only) => only..only + 1,
        None => 0..config.count,
    };
    let sigs: Vec<Signature> = indices
        .map(|i| Signature::generate(config.seed, abi, i))
        .collect();
    let variadic = sigs.iter().filter(|s| s.nfixed.is_some()).count();
    println!(
        "abi_conformance {name}: seed {} ({:#x}), {} signatures ({variadic} variadic)",
        config.seed,
        config.seed,
        sigs.len()
    );
    let sources: Vec<String> = sigs
        .chunks(SIGS_PER_FILE)
        .flat_map(c_source::sources)
        .collect();
    let lib = Library::build(name, &c_source::support(), &sources);
    let c_failures = CFailures::new(&lib);

    let mut failures = Vec::new();
    for sig in &sigs {
        if config.trace {
            eprintln!("{name} signature {}: {}", sig.index, sig.prototype());
        }
        let mut problems = Vec::new();
        match prepare(sig) {
            Ok(cif) => {
                check_call(&lib, &c_failures, sig, &cif, &mut problems);
                check_closure(&lib, &c_failures, sig, cif, &mut problems);
            }
            Err(err) => problems.push(format!("Cif refused: {err}")),
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{name} signature {}: {}\n    {}",
                sig.index,
                sig.prototype(),
                problems.join("\n    ")
            ));
        }
    }

    if failures.is_empty() {
        if config.keep {
            println!("C peer kept: {}", lib.location());
        } else {
            lib.remove_files();
        }
        return;
    }
    for failure in failures.iter().take(MAX_REPORTED) {
        eprintln!("{failure}\n");
    }
    panic!(
        "{} of {} {name} signatures failed ({} shown). Reproduce one with \
         ABI_FUZZ_SEED={} ABI_FUZZ_ONLY=<index> cargo test --test abi_conformance {name}\n\
         C peer: {}",
        failures.len(),
        sigs.len(),
        failures.len().min(MAX_REPORTED),
        config.seed,
        lib.location()
    );
}

fn prepare(sig: &Signature) -> Result<Cif, closure_ffi::dynamic::CifError> {
    let args = sig.args.iter().cloned();
    match sig.nfixed {
        Some(nfixed) => Cif::new_variadic(sig.abi, args, nfixed, sig.ret.clone()),
        None => Cif::new(sig.abi, args, sig.ret.clone()),
    }
}

/// Bytes of libffi's `ffi_arg`, to which narrow integer results are widened.
const FFI_ARG: usize = std::mem::size_of::<usize>();

/// If the return type is an integer narrower than `ffi_arg`: whether it is signed.
fn narrow_integer(sig: &Signature) -> Option<bool> {
    let kind = sig.ret.kind();
    (kind.is_integer() && sig.ret.size() < FFI_ARG).then(|| kind.is_signed())
}

/// `Cif::call_raw` into the C callee `f_i`.
fn check_call(
    lib: &Library,
    c_failures: &CFailures,
    sig: &Signature,
    cif: &Cif,
    problems: &mut Vec<String>,
) {
    let f = lib.symbol(&format!("f_{}", sig.index));
    // Every argument at a 16-aligned offset of one arena.
    let offsets: Vec<usize> = sig
        .arg_values
        .iter()
        .scan(0, |at, v| {
            let here = *at;
            *at += v.bytes.len().next_multiple_of(16);
            Some(here)
        })
        .collect();
    let total = sig
        .arg_values
        .iter()
        .map(|v| v.bytes.len().next_multiple_of(16))
        .sum();
    let mut arena = Aligned::new(total, 0);
    for (value, &off) in sig.arg_values.iter().zip(&offsets) {
        arena.bytes_mut()[off..off + value.bytes.len()].copy_from_slice(&value.bytes);
    }
    let base = arena.bytes_mut().as_mut_ptr();
    // SAFETY: every offset is within the arena (it was sized from the same lengths).
    let avalue: Vec<*mut c_void> = offsets
        .iter()
        .map(|&off| unsafe { base.add(off) }.cast())
        .collect();

    let ret_len = sig.ret.size().max(8);
    let mut rbuf = Aligned::new(ret_len + 16, CANARY);
    let rvalue = if sig.null_rvalue {
        std::ptr::null_mut()
    } else {
        rbuf.bytes_mut().as_mut_ptr().cast()
    };
    c_failures.reset();
    // SAFETY: `f` is `f_i`, compiled from this signature with this ABI; `avalue` holds one
    // pointer per argument to a value of its type (16-aligned); `rvalue` is null or has
    // max(size, 8) bytes, 16-aligned, plus the canary.
    unsafe { cif.call_raw(CodePtr::new(f), rvalue, avalue.as_ptr()) };
    if let Some(err) = c_failures.take(sig) {
        problems.push(format!("call_raw: {err}"));
    }
    if sig.null_rvalue {
        return;
    }
    let got = rbuf.bytes();
    if let Some(want) = &sig.ret_value {
        if !want.matches(got) {
            problems.push(format!(
                "call_raw: wrong return value\n      want{}\n      got {}",
                want.show(&want.bytes),
                want.show(got)
            ));
        }
        if let Some(signed) = narrow_integer(sig) {
            let size = sig.ret.size();
            let negative = signed && want.bytes[size - 1] & 0x80 != 0;
            let fill = if negative { 0xFF } else { 0 };
            if got[size..FFI_ARG].iter().any(|&b| b != fill) {
                problems.push(format!(
                    "call_raw: the {size}-byte integer result is not {} to {FFI_ARG} bytes: \
                     {:02x?}",
                    if signed {
                        "sign-extended"
                    } else {
                        "zero-extended"
                    },
                    &got[..8]
                ));
            }
        }
    }
    if got[ret_len..ret_len + 16].iter().any(|&b| b != CANARY) {
        problems.push(format!(
            "call_raw: wrote past the {ret_len}-byte return buffer: {:02x?}",
            &got[ret_len..ret_len + 16]
        ));
    }
}

/// A closure with the signature's Cif, called by the C caller `call_i`.
fn check_closure(
    lib: &Library,
    c_failures: &CFailures,
    sig: &Signature,
    cif: Cif,
    problems: &mut Vec<String>,
) {
    let seen: RefCell<Vec<String>> = RefCell::new(Vec::new());
    let calls = Cell::new(0u32);
    // Never panics: a panic cannot unwind through the C caller. Problems are recorded.
    let callback = |args: &Args<'_>, ret: Ret<'_>| {
        calls.set(calls.get() + 1);
        let mut seen = seen.borrow_mut();
        if args.len() != sig.arg_values.len() {
            seen.push(format!("the closure got {} arguments", args.len()));
            return;
        }
        for (i, want) in sig.arg_values.iter().enumerate() {
            let Some(ptr) = args.ptr(i) else {
                seen.push(format!("argument {i}: no pointer"));
                continue;
            };
            // SAFETY: the entry points argument `i` at a value of its Cif type, which is
            // `want.bytes.len()` bytes long, valid during the call.
            let got = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), want.bytes.len()) };
            if !want.matches(got) {
                seen.push(format!(
                    "closure argument {i}: wrong value\n      want{}\n      got {}",
                    want.show(&want.bytes),
                    want.show(got)
                ));
            }
        }
        if let Some(want) = &sig.ret_value {
            let mut bytes = want.bytes.clone();
            if let (Some(signed), true) = (narrow_integer(sig), sig.widen_closure_ret) {
                let negative = signed && bytes[bytes.len() - 1] & 0x80 != 0;
                bytes.resize(FFI_ARG, if negative { 0xFF } else { 0 });
            }
            // SAFETY: the return buffer holds max(size, 8) bytes, and `bytes` is the
            // value (size bytes) or its widened form (8 bytes).
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    ret.as_ptr().cast::<u8>(),
                    bytes.len(),
                )
            };
        }
    };
    let closure = match Closure::new(cif, callback) {
        Ok(closure) => closure,
        Err(err) => {
            problems.push(format!("Closure::new: {err}"));
            return;
        }
    };
    let caller = lib.symbol(&format!("call_{}", sig.index));
    // SAFETY: `call_i` is `int call_i(ret (*fp)(args...))`: from Rust, an `extern "C"`
    // function of one pointer argument returning int.
    let caller: unsafe extern "C" fn(*const c_void) -> i32 = unsafe { std::mem::transmute(caller) };
    c_failures.reset();
    // SAFETY: the closure's code has exactly the signature `call_i` calls it with, and the
    // closure outlives the call.
    let status = unsafe { caller(closure.code_ptr().as_ptr()) };
    drop(closure);
    if let Some(err) = c_failures.take(sig) {
        problems.push(format!("closure: {err}"));
    } else if status != 0 {
        problems.push(format!("closure: call_{} returned {status}", sig.index));
    }
    if calls.get() != 1 {
        problems.push(format!("closure: called {} times, not once", calls.get()));
    }
    problems.extend(seen.into_inner());
}
