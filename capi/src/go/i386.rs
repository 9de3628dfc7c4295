//! The i386 Go closure entries and `ffi_call_go` shims. The static chain is the register
//! gcc uses for the convention, as in libffi's i386 port: ecx for SYSV, MS_CDECL, STDCALL
//! and PASCAL (which pass no arguments in registers), eax for THISCALL and FASTCALL (whose
//! ecx, and edx, hold arguments). REGISTER passes arguments in eax, edx and ecx and has no
//! static chain: no entry (`FFI_BAD_ABI`, as libffi) and no shim (a plain call).
//!
//! The helpers they call are cdecl (`extern "C"`): eax, ecx and edx are clobbered, so the
//! routines save the argument registers the convention uses, and keep esp 16-byte aligned
//! at the call (esp is 12 mod 16 at entry, just after the caller's `call`). Each routine
//! leaves the stack exactly as it found it before passing control on, so the callee sees
//! the caller's return address and stack arguments (and pops them itself where the
//! convention says so).

use core::ffi::c_void;

use crate::ffi::{
    FfiAbi, FFI_FASTCALL, FFI_MS_CDECL, FFI_PASCAL, FFI_STDCALL, FFI_SYSV, FFI_THISCALL,
};

core::arch::global_asm!(
    // The entry for ecx-chain conventions. In: ecx = the ffi_go_closure, no register
    // arguments. Out: a jump to the signature's shared closure code, esp and the stack
    // arguments untouched; eax, ecx, edx clobbered (none carries an argument here).
    ".pushsection .text.closure_ffi_capi_go_entry_ecx,\"ax\",@progbits",
    ".p2align 4",
    ".globl closure_ffi_capi_go_entry_ecx",
    ".hidden closure_ffi_capi_go_entry_ecx",
    ".type closure_ffi_capi_go_entry_ecx, @function",
    "closure_ffi_capi_go_entry_ecx:",
    ".cfi_startproc",
    "sub esp, 8",                   // esp: 12 -> 4 mod 16
    ".cfi_adjust_cfa_offset 8",
    "push ecx",                     // go_enter(go); esp 0 mod 16 at the call
    ".cfi_adjust_cfa_offset 4",
    "call {enter}",                 // eax = the shared closure's code
    "add esp, 12",
    ".cfi_adjust_cfa_offset -12",
    "jmp eax",
    ".cfi_endproc",
    ".size closure_ffi_capi_go_entry_ecx, . - closure_ffi_capi_go_entry_ecx",
    ".popsection",
    // The entry for eax-chain conventions. In: eax = the ffi_go_closure, ecx and edx
    // arguments. Out: a jump to the shared closure code with ecx and edx restored; eax
    // clobbered (it carries no argument here).
    ".pushsection .text.closure_ffi_capi_go_entry_eax,\"ax\",@progbits",
    ".p2align 4",
    ".globl closure_ffi_capi_go_entry_eax",
    ".hidden closure_ffi_capi_go_entry_eax",
    ".type closure_ffi_capi_go_entry_eax, @function",
    "closure_ffi_capi_go_entry_eax:",
    ".cfi_startproc",
    "push ecx",                     // saved arguments; esp: 12 -> 4 mod 16
    ".cfi_adjust_cfa_offset 4",
    "push edx",
    ".cfi_adjust_cfa_offset 4",
    "push eax",                     // go_enter(go); esp 0 mod 16 at the call
    ".cfi_adjust_cfa_offset 4",
    "call {enter}",                 // eax = the shared closure's code
    "add esp, 4",
    ".cfi_adjust_cfa_offset -4",
    "pop edx",
    ".cfi_adjust_cfa_offset -4",
    "pop ecx",
    ".cfi_adjust_cfa_offset -4",
    "jmp eax",
    ".cfi_endproc",
    ".size closure_ffi_capi_go_entry_eax, . - closure_ffi_capi_go_entry_eax",
    ".popsection",
    // The ffi_call_go shim for ecx-chain conventions (called by the plan executor as the
    // target, arguments in place). Out: a jump to the target with ecx = the static chain;
    // eax, edx clobbered (no register arguments here).
    ".pushsection .text.closure_ffi_capi_go_call_ecx,\"ax\",@progbits",
    ".p2align 4",
    ".globl closure_ffi_capi_go_call_ecx",
    ".hidden closure_ffi_capi_go_call_ecx",
    ".type closure_ffi_capi_go_call_ecx, @function",
    "closure_ffi_capi_go_call_ecx:",
    ".cfi_startproc",
    "sub esp, 12",                  // esp: 12 -> 0 mod 16
    ".cfi_adjust_cfa_offset 12",
    "call {calling}",               // eax = &[target, chain]
    "add esp, 12",
    ".cfi_adjust_cfa_offset -12",
    "mov ecx, [eax + 4]",           // the static chain
    "jmp dword ptr [eax]",          // the target
    ".cfi_endproc",
    ".size closure_ffi_capi_go_call_ecx, . - closure_ffi_capi_go_call_ecx",
    ".popsection",
    // The ffi_call_go shim for eax-chain conventions. In: ecx, edx arguments. Out: a jump
    // to the target with ecx, edx restored and eax = the static chain.
    ".pushsection .text.closure_ffi_capi_go_call_eax,\"ax\",@progbits",
    ".p2align 4",
    ".globl closure_ffi_capi_go_call_eax",
    ".hidden closure_ffi_capi_go_call_eax",
    ".type closure_ffi_capi_go_call_eax, @function",
    "closure_ffi_capi_go_call_eax:",
    ".cfi_startproc",
    "push ecx",                     // saved arguments; esp: 12 -> 4 mod 16
    ".cfi_adjust_cfa_offset 4",
    "push edx",
    ".cfi_adjust_cfa_offset 4",
    "sub esp, 4",                   // esp 0 mod 16 at the call
    ".cfi_adjust_cfa_offset 4",
    "call {calling}",               // eax = &[target, chain]
    "add esp, 4",
    ".cfi_adjust_cfa_offset -4",
    "pop edx",
    ".cfi_adjust_cfa_offset -4",
    "pop ecx",
    ".cfi_adjust_cfa_offset -4",
    "push dword ptr [eax]",         // the target, below the caller's return address
    ".cfi_adjust_cfa_offset 4",
    "mov eax, [eax + 4]",           // the static chain
    "ret",                          // to the target; esp as at entry
    ".cfi_endproc",
    ".size closure_ffi_capi_go_call_eax, . - closure_ffi_capi_go_call_eax",
    ".popsection",
    enter = sym super::go_enter,
    calling = sym super::go_calling,
);

extern "C" {
    fn closure_ffi_capi_go_entry_ecx();
    fn closure_ffi_capi_go_entry_eax();
    fn closure_ffi_capi_go_call_ecx();
    fn closure_ffi_capi_go_call_eax();
}

/// Where a convention passes the static chain: `Some(true)` ecx, `Some(false)` eax, `None`
/// nowhere (REGISTER, and numbers that are no i386 ABI).
fn chain_in_ecx(abi: FfiAbi) -> Option<bool> {
    match abi {
        FFI_SYSV | FFI_MS_CDECL | FFI_STDCALL | FFI_PASCAL => Some(true),
        FFI_THISCALL | FFI_FASTCALL => Some(false),
        _ => None,
    }
}

/// The Go closure entry for a cif's ABI.
pub(super) fn entry(abi: FfiAbi) -> Option<*const c_void> {
    Some(if chain_in_ecx(abi)? {
        closure_ffi_capi_go_entry_ecx as *const c_void
    } else {
        closure_ffi_capi_go_entry_eax as *const c_void
    })
}

/// The `ffi_call_go` shim for a cif's ABI.
pub(super) fn call_shim(abi: FfiAbi) -> Option<unsafe extern "C" fn()> {
    Some(if chain_in_ecx(abi)? {
        closure_ffi_capi_go_call_ecx
    } else {
        closure_ffi_capi_go_call_eax
    })
}
