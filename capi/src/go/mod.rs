//! Go closures: `ffi_prep_go_closure` and `ffi_call_go`.
//!
//! A Go closure needs no executable memory of its own: `tramp` is a static entry, and the
//! caller passes the closure in the static-chain register (x86_64: r10; aarch64: x18; arm:
//! ip; i386: ecx, or eax for THISCALL and FASTCALL, whose ecx holds an argument). The entry asks
//! [`enter`] for the signature's shared dynamic-layer closure (one per signature, made on
//! first use) after noting the Go closure in a thread-local; that closure's callback takes
//! it back and calls `fun(cif, ret, args, go_closure)`. No other closure entry can run on
//! the thread between the two steps.
//!
//! `ffi_call_go` calls through a static shim that loads the static chain (and the target)
//! from a thread-local set just before the call, so every call path of the dynamic layer
//! works unchanged.
//!
//! The entries and shims are assembly, one file per architecture (x86_64.rs, i386.rs,
//! aarch64.rs, arm.rs). [`entry`] gives the `tramp` for a cif's ABI (`None` where the ABI has
//! no static chain) and [`call_shim`] the shim: one of each on x86_64, aarch64 and Arm,
//! where every ABI uses the same register; i386.rs has its own.

use core::cell::Cell;
use core::ffi::c_void;

use closure_ffi::dynamic::{Cif, RawClosure};

use crate::call::Fn0;
use crate::ffi::{
    ClosureFun, FfiCif, FfiGoClosure, FfiStatus, FFI_BAD_ABI, FFI_BAD_ARGTYPE, FFI_BAD_TYPEDEF,
    FFI_OK,
};
use crate::prep;

#[cfg(target_arch = "x86")]
#[path = "i386.rs"]
mod arch;
#[cfg(target_arch = "x86_64")]
#[path = "x86_64.rs"]
mod arch;
#[cfg(target_arch = "aarch64")]
#[path = "aarch64.rs"]
mod arch;
#[cfg(target_arch = "arm")]
#[path = "arm.rs"]
mod arch;

#[cfg(target_arch = "x86")]
use arch::{call_shim, entry};

/// [`enter`] in the C convention, as the entries of i386, aarch64 and Arm call it (x86_64's
/// call a Win64 wrapper of their own).
#[cfg(not(target_arch = "x86_64"))]
extern "C" fn go_enter(go: *const FfiGoClosure) -> *const c_void {
    enter(go)
}

/// [`calling`] in the C convention, as the shims of i386, aarch64 and Arm call it.
#[cfg(not(target_arch = "x86_64"))]
extern "C" fn go_calling() -> *const [usize; 2] {
    calling()
}

// The one entry and shim of x86_64, aarch64 and Arm, whose every ABI takes the static chain
// in the same register (i386's depend on the ABI: i386.rs).
#[cfg(not(target_arch = "x86"))]
extern "C" {
    fn closure_ffi_capi_go_entry();
    fn closure_ffi_capi_go_call();
}

/// The Go closure entry (the `tramp`) for a cif's ABI.
#[cfg(not(target_arch = "x86"))]
fn entry(_abi: crate::ffi::FfiAbi) -> Option<*const c_void> {
    Some(closure_ffi_capi_go_entry as *const c_void)
}

/// The `ffi_call_go` shim for a cif's ABI.
#[cfg(not(target_arch = "x86"))]
fn call_shim(_abi: crate::ffi::FfiAbi) -> Option<unsafe extern "C" fn()> {
    Some(closure_ffi_capi_go_call)
}

thread_local! {
    /// The Go closure whose entry is running.
    static ENTERING: Cell<*const FfiGoClosure> = const { Cell::new(core::ptr::null()) };
    /// The target and static chain of the `ffi_call_go` in progress: [target, chain].
    static CALLING: Cell<[usize; 2]> = const { Cell::new([0; 2]) };
}

/// The code of the shared closure for the Go closure's signature, after noting the Go
/// closure for [`go_dispatch`]. Aborts when the Go closure's cif is unusable (a Go
/// closure that cannot run has no result to give). Called by the architecture's entry.
fn enter(go: *const FfiGoClosure) -> *const c_void {
    // SAFETY: the caller passes a live Go closure in the static-chain register (the
    // contract of calling one), which the entry hands over.
    let cif = unsafe { (*go).cif };
    // SAFETY: a prepared Go closure's cif was prepared.
    match unsafe { shared_code(cif) } {
        Some(code) => {
            ENTERING.with(|e| e.set(go));
            code
        }
        None => {
            eprintln!("closure-ffi (libffi): a Go closure was called with an unprepared cif");
            std::process::abort();
        }
    }
}

/// The `ffi_call_go` in progress: a pointer to [target, chain]. Called by the
/// architecture's shim.
fn calling() -> *const [usize; 2] {
    CALLING.with(|c| c.as_ptr().cast_const())
}

/// The shared closure's callback: calls the Go closure noted by [`enter`].
unsafe extern "C" fn go_dispatch(
    _cif: *const Cif,
    ret: *mut c_void,
    args: *const *mut c_void,
    _user_data: *mut c_void,
) {
    let go = ENTERING.with(|e| e.replace(core::ptr::null()));
    // SAFETY: noted by `enter` on this thread just before this closure ran.
    let (cif, fun) = unsafe { ((*go).cif, (*go).fun) };
    if let Some(fun) = fun {
        // SAFETY: the Go closure's contract: `fun` takes its cif's arguments.
        unsafe { fun(cif, ret, args.cast_mut(), go.cast_mut().cast()) }
    }
}

/// The shared closure code of `cif`'s signature, made on first use.
///
/// # Safety
/// `cif` null or prepared.
unsafe fn shared_code(cif: *const FfiCif) -> Option<*const c_void> {
    // SAFETY: forwarded contract.
    let sig = unsafe { prep::signature_of(cif) }?;
    let code = sig.go_code.get_or_init(|| {
        // SAFETY: go_dispatch reads only the thread-local; the closure is leaked (one per
        // signature, like the signature itself).
        match unsafe { RawClosure::from_raw(sig.cif.clone(), go_dispatch, core::ptr::null_mut()) } {
            Ok(closure) => {
                let code = closure.code_ptr().as_ptr() as usize;
                core::mem::forget(closure);
                code
            }
            Err(_) => 0,
        }
    });
    (*code != 0).then_some(*code as *const c_void)
}

/// Prepares a Go closure: its `tramp` becomes the static entry for the cif's ABI.
/// `FFI_BAD_ARGTYPE` for a null closure or fun, `FFI_BAD_TYPEDEF` for a cif that cannot be
/// prepared, `FFI_BAD_ABI` for an ABI without a static chain (i386 `FFI_REGISTER`, as in
/// libffi).
///
/// # Safety
/// `closure` writable; `cif` prepared and outliving it.
#[no_mangle]
pub unsafe extern "C" fn ffi_prep_go_closure(
    closure: *mut FfiGoClosure,
    cif: *mut FfiCif,
    fun: Option<ClosureFun>,
) -> FfiStatus {
    if closure.is_null() || fun.is_none() {
        return FFI_BAD_ARGTYPE;
    }
    // SAFETY: forwarded contract; made now so that a failure is reported here.
    if unsafe { shared_code(cif) }.is_none() {
        return FFI_BAD_TYPEDEF;
    }
    // SAFETY: prepared (shared_code succeeded), so readable.
    let Some(entry) = entry(unsafe { (*cif).abi }) else {
        return FFI_BAD_ABI;
    };
    // SAFETY: writable (contract).
    unsafe {
        (*closure).tramp = entry;
        (*closure).cif = cif;
        (*closure).fun = fun;
    }
    FFI_OK
}

/// `ffi_call` with `closure` in the static-chain register (x86_64: r10; aarch64: x18; arm:
/// ip; i386: ecx, or eax for THISCALL and FASTCALL; i386 `FFI_REGISTER` has no static chain
/// and gets a plain call).
///
/// # Safety
/// As `ffi_call`.
#[no_mangle]
pub unsafe extern "C" fn ffi_call_go(
    cif: *mut FfiCif,
    fun: Fn0,
    rvalue: *mut c_void,
    avalue: *mut *mut c_void,
    closure: *mut c_void,
) {
    let Some(target) = fun else { return };
    if cif.is_null() {
        return;
    }
    // SAFETY: non-null; readable by the contract.
    let Some(shim) = call_shim(unsafe { (*cif).abi }) else {
        // SAFETY: forwarded contract.
        return unsafe { crate::call::ffi_call(cif, fun, rvalue, avalue) };
    };
    CALLING.with(|c| c.set([target as usize, closure as usize]));
    // SAFETY: forwarded contract; the shim jumps to `target` with the static chain set and
    // every argument register and the stack as the call path left them.
    unsafe { crate::call::ffi_call(cif, Some(shim), rvalue, avalue) }
}
