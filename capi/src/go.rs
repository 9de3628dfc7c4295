//! Go closures: `ffi_prep_go_closure` and `ffi_call_go`.
//!
//! A Go closure needs no executable memory of its own: `tramp` is a static entry, and the
//! caller passes the closure in r10 (the static-chain register). The entry asks
//! [`go_enter`] for the signature's shared dynamic-layer closure (one per signature, made on
//! first use) after noting the Go closure in a thread-local; that closure's callback takes
//! it back and calls `fun(cif, ret, args, go_closure)`. No other closure entry can run on
//! the thread between the two steps.
//!
//! `ffi_call_go` calls through a static shim that loads r10 (and the target) from a
//! thread-local set just before the call, so every call path of the dynamic layer works
//! unchanged.
//!
//! Both assembly routines save every argument register of both x86_64 conventions (rdi, rsi,
//! rdx, rcx, r8, r9, rax for the variadic vector count, xmm0-7) around a call to an
//! `extern "win64"` function, which preserves what either convention's caller expects.

use core::cell::Cell;
use core::ffi::c_void;

use closure_ffi::dynamic::{Cif, RawClosure};

use crate::call::Fn0;
use crate::ffi::{
    ClosureFun, FfiCif, FfiGoClosure, FfiStatus, FFI_BAD_ARGTYPE, FFI_BAD_TYPEDEF, FFI_OK,
};
use crate::prep;

thread_local! {
    /// The Go closure whose entry is running.
    static ENTERING: Cell<*const FfiGoClosure> = const { Cell::new(core::ptr::null()) };
    /// The target and static chain of the `ffi_call_go` in progress: [target, chain].
    static CALLING: Cell<[usize; 2]> = const { Cell::new([0; 2]) };
}

/// Saves the argument registers, calls `$call` (an `extern "win64"` function with the
/// first argument in rcx) and restores them; the result is left in r11.
macro_rules! around_call {
    ($name:literal, $arg:literal, $then:literal, $fn:ident) => {
        core::arch::global_asm!(
            concat!(".pushsection .text.", $name, ",\"ax\",@progbits"),
            ".p2align 4",
            concat!(".globl ", $name),
            concat!(".hidden ", $name),
            concat!(".type ", $name, ", @function"),
            concat!($name, ":"),
            ".cfi_startproc",
            "push rbp",
            ".cfi_def_cfa_offset 16",
            ".cfi_offset rbp, -16",
            "mov rbp, rsp",
            ".cfi_def_cfa_register rbp",
            "sub rsp, 0xa0",
            "mov [rsp + 0x20], rdi",
            "mov [rsp + 0x28], rsi",
            "mov [rsp + 0x30], rdx",
            "mov [rsp + 0x38], rcx",
            "mov [rsp + 0x40], r8",
            "mov [rsp + 0x48], r9",
            "mov [rsp + 0x50], rax",
            "movq [rsp + 0x60], xmm0",
            "movq [rsp + 0x68], xmm1",
            "movq [rsp + 0x70], xmm2",
            "movq [rsp + 0x78], xmm3",
            "movq [rsp + 0x80], xmm4",
            "movq [rsp + 0x88], xmm5",
            "movq [rsp + 0x90], xmm6",
            "movq [rsp + 0x98], xmm7",
            $arg,
            "call {target}",
            $then,
            "mov rdi, [rsp + 0x20]",
            "mov rsi, [rsp + 0x28]",
            "mov rdx, [rsp + 0x30]",
            "mov rcx, [rsp + 0x38]",
            "mov r8, [rsp + 0x40]",
            "mov r9, [rsp + 0x48]",
            "mov rax, [rsp + 0x50]",
            "movq xmm0, [rsp + 0x60]",
            "movq xmm1, [rsp + 0x68]",
            "movq xmm2, [rsp + 0x70]",
            "movq xmm3, [rsp + 0x78]",
            "movq xmm4, [rsp + 0x80]",
            "movq xmm5, [rsp + 0x88]",
            "movq xmm6, [rsp + 0x90]",
            "movq xmm7, [rsp + 0x98]",
            "leave",
            ".cfi_def_cfa rsp, 8",
            "jmp r11",
            ".cfi_endproc",
            concat!(".size ", $name, ", . - ", $name),
            ".popsection",
            target = sym $fn,
        );
    };
}

// The Go closure entry: r10 = the ffi_go_closure.
around_call!(
    "closure_ffi_capi_go_entry",
    "mov rcx, r10",
    "mov r11, rax",
    go_enter
);

// The ffi_call_go shim: loads r10 and the target.
around_call!(
    "closure_ffi_capi_go_call",
    "xor ecx, ecx",
    "mov r11, [rax]\n mov r10, [rax + 8]",
    go_calling
);

extern "C" {
    fn closure_ffi_capi_go_entry();
    fn closure_ffi_capi_go_call();
}

/// The code of the shared closure for the Go closure's signature, after noting the Go
/// closure for [`go_dispatch`]. Aborts when the Go closure's cif is unusable (a Go
/// closure that cannot run has no result to give).
extern "win64" fn go_enter(go: *const FfiGoClosure) -> *const c_void {
    // SAFETY: the caller passes a live Go closure in r10 (the contract of calling one).
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

/// The `ffi_call_go` in progress: a pointer to [target, chain].
extern "win64" fn go_calling(_unused: usize) -> *const [usize; 2] {
    CALLING.with(|c| c.as_ptr().cast_const())
}

/// The shared closure's callback: calls the Go closure noted by [`go_enter`].
unsafe extern "C" fn go_dispatch(
    _cif: *const Cif,
    ret: *mut c_void,
    args: *const *mut c_void,
    _user_data: *mut c_void,
) {
    let go = ENTERING.with(|e| e.replace(core::ptr::null()));
    // SAFETY: noted by go_enter on this thread just before this closure ran.
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

/// Prepares a Go closure: its `tramp` becomes the static entry. `FFI_BAD_ARGTYPE` for a
/// null closure or fun, `FFI_BAD_TYPEDEF` for a cif that cannot be prepared.
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
    // SAFETY: writable (contract).
    unsafe {
        (*closure).tramp = closure_ffi_capi_go_entry as *const c_void;
        (*closure).cif = cif;
        (*closure).fun = fun;
    }
    FFI_OK
}

/// `ffi_call` with `closure` in the static-chain register (r10).
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
    CALLING.with(|c| c.set([target as usize, closure as usize]));
    // SAFETY: the shim jumps to `target` with r10 = closure and every argument register
    // and the stack as the call path left them.
    let shim: unsafe extern "C" fn() = closure_ffi_capi_go_call;
    // SAFETY: forwarded contract.
    unsafe { crate::call::ffi_call(cif, Some(shim), rvalue, avalue) }
}
