//! The x86_64 Go closure entry and `ffi_call_go` shim: the static chain is r10.
//!
//! Both routines save every argument register of both x86_64 conventions (rdi, rsi, rdx,
//! rcx, r8, r9, rax for the variadic vector count, xmm0-7) around a call to an
//! `extern "win64"` function, which preserves what either convention's caller expects.

use core::ffi::c_void;

use crate::ffi::FfiGoClosure;

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
    "",
    "mov r11, [rax]\n mov r10, [rax + 8]",
    go_calling
);

/// `go::enter` for the entry (first argument in rcx).
extern "win64" fn go_enter(go: *const FfiGoClosure) -> *const c_void {
    super::enter(go)
}

/// `go::calling` for the shim.
extern "win64" fn go_calling() -> *const [usize; 2] {
    super::calling()
}
